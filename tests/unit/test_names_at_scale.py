"""The shortcuts that keep a large project's names cheap give exactly what the plain definitions give.

``merge`` with a KnownNames (lines agreeing with the known names set aside at once, the replicas'
run of lines kept as one piece, markers found whole) against the line-by-line merge it replaces,
over many generated hosts files; ``StartNames.for_service`` (each service's list made once, the
shared names copied as slices) against the name-by-name list.
"""

import random
from typing import List, Optional

from napcompose.model import Link, NetworkAttachment, Project, Replica, ServiceSpec
from napcompose.names.hostsfile import KnownNames, merge, render_block
from napcompose.names.startnames import StartNames, replica_names


def reference_merge(existing: str, project_name: str, block: str, known=None) -> str:
    """The merge as it reads line by line: every block out, stray BEGINs out, stale lines out."""
    begin, end = f"# BEGIN nap-compose {project_name}", f"# END nap-compose {project_name}"

    def find(lines):
        for first, line in enumerate(lines):
            if line.rstrip() == begin:
                for last in range(first + 1, len(lines)):
                    if lines[last].rstrip() == end:
                        return first, last
                return None
        return None

    lines = existing.splitlines()
    insert_at: Optional[int] = None
    while True:
        found = find(lines)
        if found is None:
            break
        insert_at = found[0] if insert_at is None else min(insert_at, found[0])
        del lines[found[0]:found[1] + 1]
    for index in reversed([i for i, line in enumerate(lines) if line.rstrip() == begin]):
        del lines[index]
        if insert_at is not None and index < insert_at:
            insert_at -= 1
    block_lines = block.splitlines()
    wanted = dict(known or {})
    for line in block_lines:
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            wanted[name] = fields[0]
    stale = []
    for index, line in enumerate(lines):
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and all(wanted.get(name, fields[0]) != fields[0] for name in fields[1:]):
            stale.append(index)
    for index in reversed(stale):
        del lines[index]
        if insert_at is not None and index < insert_at:
            insert_at -= 1
    if insert_at is None:
        insert_at = len(lines)
    lines[insert_at:insert_at] = block_lines
    return "\n".join(lines) + "\n" if lines else ""


NAMES = [f"s{i}_{k}" for i in range(4) for k in range(1, 4)] + ["db", "web", "alias"]
ADDRESSES = [f"10.0.0.{i}" for i in range(1, 9)]


def _hosts_file(rng: random.Random, run: str, block: str, project: str) -> str:
    pieces: List[str] = ["127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost\n"]
    choices = [
        lambda: run,                                                        # Docker's copy, whole
        lambda: run.replace("\t", " ", 1),                                  # a hand-edited copy
        lambda: "".join(run.splitlines(True)[1:]),                          # a copy missing its first line
        lambda: f"{rng.choice(ADDRESSES)}\t{rng.choice(NAMES)}\n",           # one line, maybe stale
        lambda: f"{rng.choice(ADDRESSES)} {rng.choice(NAMES)} {rng.choice(NAMES)}\n",
        lambda: f"{rng.choice(ADDRESSES)}\t{rng.choice(NAMES)}  # note\n",
        lambda: block,                                                      # a block already there
        lambda: f"# BEGIN nap-compose {project}\n",                         # a torn write
        lambda: f"# END nap-compose {project}\n",
        lambda: f"# BEGIN nap-compose {project} \n",                        # trailing blank
        lambda: f"# BEGIN nap-compose {project}x\n10.0.0.1\tdb\n# END nap-compose {project}x\n",
        lambda: f"note: # BEGIN nap-compose {project}\n",
        lambda: "10.0.0.9\tweb\r\n",
        lambda: "\n",
    ]
    for _ in range(rng.randint(0, 8)):
        pieces.append(rng.choice(choices)())
    pieces.append("10.0.0.77\tc0ffee\n")
    text = "".join(pieces)
    return text[:-1] if rng.random() < 0.1 else text  # sometimes no final newline


def test_merge_with_known_names_gives_what_the_line_by_line_merge_gives():
    rng = random.Random(27)
    for case in range(1500):
        project = "gb"
        known = {name: rng.choice(ADDRESSES) for name in rng.sample(NAMES, rng.randint(0, len(NAMES)))}
        run_pairs = [(name, known[name]) for name in sorted(known)][:rng.randint(0, len(known))]
        run = "".join(f"{address}\t{name}\n" for name, address in run_pairs)
        entries = [(rng.choice(ADDRESSES), tuple(rng.sample(NAMES, rng.randint(1, 2))))
                   for _ in range(rng.randint(0, 3))]
        block = render_block(project, entries)
        text = _hosts_file(rng, run, block, project)
        want = reference_merge(text, project, block, known)
        fast = KnownNames(known, run_pairs)
        assert merge(text, project, block, fast) == want, (case, text, block, known)
        assert merge(text, project, block, known) == want, (case, text, block, known)
        again = merge(want, project, block, fast)
        assert again == reference_merge(want, project, block, known), (case, want)


def test_the_run_of_lines_is_found_whole_and_its_names_still_move_with_the_block():
    known = {"api_1": "10.0.0.11", "api_2": "10.0.0.12", "db_1": "10.0.0.21"}
    run = [("api_1", "10.0.0.11"), ("api_2", "10.0.0.12")]
    text = "127.0.0.1\tlocalhost\n10.0.0.11\tapi_1\n10.0.0.12\tapi_2\n10.0.0.21\tdb_1\n"
    block = render_block("shop", [("10.0.0.13", ("api_2",))])  # api_2 moved: the run's line goes
    merged = merge(text, "shop", block, KnownNames(known, run))
    assert "10.0.0.12\tapi_2" not in merged and "10.0.0.11\tapi_1" in merged
    assert merged == reference_merge(text, "shop", block, known)
    kept = merge(text, "shop", render_block("shop", []), KnownNames(known, run))
    assert kept == text + render_block("shop", [])


def test_a_run_that_disagrees_with_the_known_names_is_not_taken_whole():
    fast = KnownNames({"a": "10.0.0.1"}, [("a", "10.0.0.2")])
    assert fast.run is None
    text = "10.0.0.2\ta\n"
    assert merge(text, "p", render_block("p", []), fast) == render_block("p", [])


def _reference_for_service(names: StartNames, project: Project, service: str, given=()):
    spec = project.service(service)
    aliases = [(link.alias, names.first(link.service)) for link in spec.links if names.first(link.service)]
    out, seen = list(given), {name for name, _ in given}
    for name, address in aliases + list(names._common):
        if name not in seen:
            seen.add(name)
            out.append((name, address))
    return tuple(out)


def test_for_service_gives_every_name_once_in_the_plain_order():
    project = Project(name="shop", services=(
        ServiceSpec(name="api", image="x", scale=3, networks=(NetworkAttachment("default", aliases=("backend",)),)),
        ServiceSpec(name="db", image="x", links=(Link("api", "api"),)),
        ServiceSpec(name="web", image="x", links=(Link("db", "database"), Link("api", "backend")),
                    extra_hosts=(("db", "192.0.2.1"), ("api_2", "192.0.2.2"))),
        ServiceSpec(name="api_1", image="x"),  # a service named like a replica: a name twice
    ))
    addresses = {Replica("shop", s, i): f"10.0.{n}.{i}" for n, s in enumerate(("api", "db", "web"))
                 for i in range(1, 4)}
    for extra in ({}, {Replica("shop", "api_1", 1): "10.0.9.1"}):
        names = StartNames(project, {**addresses, **extra})
        for spec in project.services:
            made = names.for_service(spec.name, spec.extra_hosts)
            assert made == _reference_for_service(names, project, spec.name, spec.extra_hosts)
            assert names.for_service(spec.name, spec.extra_hosts) is made  # made once per service
    run = StartNames(project, addresses).replica_run()
    assert run[:4] == tuple((name, "10.0.0.1") for name in replica_names(Replica("shop", "api", 1)))
    assert len(run) == 4 * len(addresses)


def test_a_shared_view_is_made_once_until_the_live_containers_change():
    from napcompose.execute.state import RunState
    from napcompose.model import ObservedContainer

    state = RunState(core=None, project=None, options=None, plan=None, allocations={}, live={}, down={})
    made = []

    def make(live):
        made.append(len(live))
        return len(live)

    one = ObservedContainer(host="node1", id="c1", name="shop_api_1", replica=Replica("shop", "api", 1),
                            config_hash="x", state="running")
    state.set_live(one.replica, one)
    assert state.shared_view("hosts", make) == ([one], 1)
    assert state.shared_view("hosts", make)[1] == 1 and made == [1]  # the same containers: not made again
    assert state.shared_view("names", make)[1] == 1 and made == [1, 1]  # another kind is its own
    state.set_live(Replica("shop", "api", 2), one)
    assert state.shared_view("hosts", make)[1] == 2 and made == [1, 1, 2]


def test_every_host_of_a_first_up_writes_its_blocks_from_one_view(monkeypatch):
    from napcompose.execute import hosts
    from tests import nap
    from tests.unit.test_orchestrator import Rig, guestbook

    views = []
    real = hosts.HostsView.of.__func__

    def counted(cls, project, live):
        views.append(len(live))
        return real(cls, project, live)

    monkeypatch.setattr(hosts.HostsView, "of", classmethod(counted))
    rig = Rig()
    assert not nap.up(rig.orc, guestbook()).failed
    assert len({rig.world.host_of(name) for name in rig.ids()}) == 3
    assert views == [5]
    assert "database" in rig.block("gb_web_1")
