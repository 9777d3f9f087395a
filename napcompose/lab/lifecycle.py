"""``lab up``, ``lab down``, ``lab status`` and ``lab exec``: the lab's life from start to teardown."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from napcompose.errors import LabError
from napcompose.parallel import fan_out
from napcompose.lab import daemons, etcd as lab_etcd, faults, image, mountns, netns, registry as lab_registry, sshd, state
from napcompose.lab.cluster_file import write_cluster_file
from napcompose.lab.layout import Layout, make_layout
from napcompose.lab.teardown import teardown

Say = Callable[[str], None]
DEFAULT_NAME, DEFAULT_SUBNET, DEFAULT_HOSTS = "nap", "198.18.0.0/24", 3
TOOLS = {"dockerd": "docker.io", "etcd": "etcd-server", "/usr/sbin/sshd": "openssh-server", "ip": "iproute2",
         "nsenter": "util-linux", "ssh-keygen": "openssh-client", "umount": "mount",
         lab_registry.PROGRAM: "docker-registry", "/usr/sbin/dnsmasq": "dnsmasq-base"}


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, bridges, dockerd): run it as root")


def require_tools() -> None:
    missing = sorted({pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)})
    if missing:
        raise LabError("missing programs for the lab; install them with `apt-get install " + " ".join(missing) + "`")
    image.find_busybox()


def health(layout: Layout) -> Dict[str, Any]:
    """Which parts of the lab run: processes by pidfile, sockets, namespaces."""
    marker = layout.dir.rstrip("/") + "/"
    namespaces = daemons.lab_namespace_ids(layout)
    files = daemons.pidfiles(layout)
    etcd_pid = daemons.read_pid(files["etcd"])
    killed = set(faults.killed_hosts(state.read_state(layout.dir) or {}))
    hosts = []
    for host in layout.hosts:
        d_pid = daemons.read_pid(files[f"{host.name}/dockerd"])
        s_pid = daemons.read_pid(files[f"{host.name}/sshd"])
        hosts.append({
            "name": host.name, "address": host.address, "namespace": host.netns,
            "namespace_present": netns.netns_exists(host.netns), "docker_socket": host.docker_sock,
            "dockerd": {"pid": d_pid, "running": daemons.alive(d_pid, marker, namespaces),
                        "answers": daemons.docker_ping(host.docker_sock)},
            "sshd": {"pid": s_pid, "running": daemons.alive(s_pid, marker, namespaces)},
            "partitioned": faults.is_partitioned(layout, host), "killed": host.name in killed,
        })
    members = lab_etcd.status(layout)
    etcd = {"pid": etcd_pid, "running": all(m["running"] for m in members), "url": lab_etcd.store_url(layout),
            "answers": all(m["answers"] for m in members), "members": members}
    registries = []
    for registry in lab_registry.registries(layout):
        pid = daemons.read_pid(registry.pidfile)
        running = daemons.alive(pid, marker)
        registries.append({"key": registry.key, "address": registry.address, "pid": pid, "running": running,
                           "answers": running and lab_registry.answers(registry), "auth": registry.auth})
    healthy = etcd["answers"] and all(r["answers"] for r in registries) and all(
        h["namespace_present"] and h["dockerd"]["running"] and h["dockerd"]["answers"] and h["sshd"]["running"]
        and not h["partitioned"] and not h["killed"] for h in hosts) and netns.netns_exists(layout.router_netns)
    return {"name": layout.name, "dir": layout.dir, "subnet": layout.subnet, "router": layout.router,
            "operator": layout.operator, "cluster_file": layout.cluster_file, "etcd": etcd,
            "registry": layout.registry, "registries": registries,
            "hosts": hosts, "healthy": bool(healthy)}


def _any_alive(layout: Layout) -> bool:
    """True when any daemon of ``layout`` still runs (by pidfile, checked against the lab's DIR)."""
    marker = layout.dir.rstrip("/") + "/"
    namespaces = daemons.lab_namespace_ids(layout)
    return any(daemons.alive(daemons.read_pid(path), marker, namespaces)
               for path in daemons.pidfiles(layout).values())


def _repair(layout: Layout, recorded: Dict[str, Any], status: Dict[str, Any], say: Say) -> Optional[Dict[str, Any]]:
    """Restart a lost sshd or etcd, revive killed hosts and heal partitioned ones, of a lab whose wiring
    and other dockerds stand; None when it must be rebuilt.

    A lost dockerd is not restarted unless `lab kill` stopped it: what became of its containers is
    unknown, so the lab is rebuilt.
    """
    if not netns.wiring_complete(layout) or not os.path.exists(layout.cluster_file) \
            or not lab_etcd.store_tls(layout).complete():  # a lab made before its store spoke TLS
        return None
    if not all((h["dockerd"]["running"] and h["dockerd"]["answers"]) or h["killed"] for h in status["hosts"]):
        return None
    dead = [m["key"] for m in status["etcd"]["members"] if not m["running"]] + \
        [r["key"] for r in status.get("registries", ()) if not r["running"]] + \
        [f"{h['name']}/dockerd" for h in status["hosts"] if h["killed"] and not h["dockerd"]["running"]] + \
        [f"{h['name']}/sshd" for h in status["hosts"] if not h["sshd"]["running"]]
    cut = [h["name"] for h in status["hosts"] if h["partitioned"]]
    if not dead and not cut:
        return None
    for name in cut:
        say(faults.heal(layout.dir, name))
    pids = dict(recorded.get("pids") or {})
    if dead:
        say(f"restarting {', '.join(dead)} of the lab in {layout.dir}")
        pids.update(_start(layout, say, dead))
    state.write_state(layout, "ready", pids, seconds=recorded.get("seconds"), bare=bool(recorded.get("bare")))
    repaired = health(layout)
    return repaired if repaired["healthy"] else None


def _clear_the_way(layout: Layout, say: Say) -> Optional[Dict[str, Any]]:
    """Deal with an earlier lab in DIR or with this name; returns the status of one that runs as asked.

    A lab elsewhere is only cleaned up when none of its processes is left: one that still runs, even
    in part (a test may have stopped one of its daemons on purpose), may be in someone's use.
    """
    previous = state.read_state(layout.dir)
    if previous is not None:
        old = state.layout_of(previous)
        if (old.name, old.subnet, len(old.hosts)) != (layout.name, layout.subnet, len(layout.hosts)) \
                and _any_alive(old):
            raise LabError(f"a lab '{old.name}' ({len(old.hosts)} hosts, {old.subnet}) already runs in "
                           f"{layout.dir}; run `nap-compose lab down --dir {layout.dir}` first")
        if previous.get("phase") == "ready":
            status = health(old)
            if status["healthy"]:
                return status
            repaired = _repair(old, previous, status, say)
            if repaired is not None:
                return repaired
        say(f"cleaning up an earlier lab in {layout.dir} that is not running completely")
        teardown(old, say)
    claim = state.read_claim(layout.name)
    if claim is not None and claim.get("dir") != layout.dir:
        other_state = state.read_state(claim["dir"])
        other = state.layout_of(other_state or claim)
        if _any_alive(other):
            raise LabError(f"a lab named '{layout.name}' already runs from {claim['dir']}: stop it with "
                           f"`nap-compose lab down --dir {claim['dir']}` or choose another --name")
        say(f"cleaning up a crashed lab '{layout.name}' left by {claim['dir']}")
        teardown(other, say)
        state.drop_claim(other)
    elif claim is None:
        left = netns.leftovers(layout)
        if left:
            raise LabError(f"{', '.join(left)} already exist(s) but no lab named '{layout.name}' claims them; "
                           "choose another --name")
    if netns.address_in_use(layout.operator) and not netns.link_exists(layout.switch):
        raise LabError(f"the operator address {layout.operator} is already used on this machine; "
                       "choose another --subnet")
    return None


def _start(layout: Layout, say: Say, only: Optional[List[str]] = None) -> Dict[str, int]:
    """Start the lab's daemons (or only those named, e.g. ``node2/sshd``) and wait until they answer."""
    starters: Dict[str, Callable[[], int]] = lab_etcd.starters(layout)
    checks = lab_etcd.checks(layout)
    for host in layout.hosts:
        starters[f"{host.name}/dockerd"] = lambda h=host: daemons.start_dockerd(layout, h)
        starters[f"{host.name}/sshd"] = lambda h=host: daemons.start_sshd(h)
        checks[f"{host.name}/dockerd"] = (f"dockerd of {host.name}", lambda h=host: daemons.docker_ping(h.docker_sock),
                                          60.0, os.path.join(host.dir, "dockerd.log"))
        checks[f"{host.name}/sshd"] = (f"sshd of {host.name}", lambda h=host: daemons.tcp_open(h.address, 22),
                                       20.0, os.path.join(host.dir, "sshd.log"))
    if only is None or any(r.key in only for r in lab_registry.registries(layout)):
        lab_registry.prepare(layout)  # configs (credentials kept), also for a lab made before it had registries
    for registry in lab_registry.registries(layout):
        starters[registry.key] = lambda r=registry: daemons.start_registry(r)
        checks[registry.key] = (f"registry {registry.address}", lambda r=registry: lab_registry.answers(r),
                                20.0, registry.log)
    keys = only if only is not None else list(starters)
    for host in layout.hosts:
        if any(key.startswith(f"{host.name}/") for key in keys):
            mountns.ensure(layout, host)
    pids = {key: starters[key]() for key in keys}
    if only is None:
        state.write_state(layout, "starting", pids)
    marker = layout.dir.rstrip("/") + "/"
    namespaces = daemons.lab_namespace_ids(layout)

    def wait(key: str) -> None:
        what, check, timeout, log = checks[key]
        daemons.wait_until(what, check, timeout, log, lambda: daemons.alive(pids[key], marker, namespaces))

    _each(keys, wait, key=str)
    if only is None:
        where = lab_etcd.store_url(layout)[len("etcd://"):]
        say(f"started etcd on {where}, registries on {', '.join(r.address for r in lab_registry.registries(layout))}"
            f" and dockerd + sshd on {len(layout.hosts)} host(s)")
    return pids



def _each(items, func, key) -> list:
    """``func`` on every item at once; the first failure is raised as the lab's error."""
    results = fan_out(items, func, key=key, max_workers=max(1, len(items)))
    failed = [r for r in results if not r.ok]
    if failed:
        raise LabError(failed[0].error)
    return [r.value for r in results]


def _import_images(layout: Layout, say: Say) -> None:
    busybox = image.find_busybox()
    tar = image.rootfs_tar(busybox, image.applets(busybox))
    _each(layout.hosts, lambda h: image.import_image(h.docker_sock, tar, h.name), key=lambda h: h.name)
    say(f"imported {image.IMAGE} on every host")
    first = layout.hosts[0]
    pushed = lab_registry.seed(layout, first.docker_sock, first.name)
    say(f"pushed {', '.join(pushed)} from {first.name}")


def _flat_network(layout: Layout, say: Say) -> None:
    """The product's own `network create` road over ssh://, then each host's NIC enslaved to the bridge;
    the names resolver started on every host as `network create` starts it, its image made here."""
    from napcompose.adapters import resolver
    from napcompose.adapters.docker_network import DockerNetworks
    from napcompose.adapters.images import DockerImages
    from napcompose.adapters.ssh import HostConnections
    from napcompose.adapters.stores import open_store
    from napcompose.adapters.system import SystemClock
    from napcompose.cluster import load_cluster_file
    from napcompose.execute.state import Core
    from napcompose.ipam.hostblocks import HostBlocks
    from napcompose.orchestrator.network import network_create
    from napcompose.ports import NullReporter

    cluster = load_cluster_file(layout.cluster_file)
    built = resolver.image() if cluster.network.resolver is not None else None
    store = open_store(cluster.store)
    try:  # every host's block is settled before any network is created (the road's first wave)
        with HostConnections(cluster) as connections:
            reporter = NullReporter()
            core = Core(cluster, {}, connections.files, None, reporter, SystemClock(),
                        images=DockerImages(connections.docker, reporter),  # the resolver's image travels
                        networks=DockerNetworks(cluster, connections, built),
                        blocks=HostBlocks(store, cluster.store.prefix, SystemClock()))
            done = network_create(core, resolver_digest=built.digest if built is not None else None)
    finally:
        if hasattr(store, "close"):
            store.close()
    failed = [r for r in done.networks if not r.ok]
    if failed:
        raise LabError("network create failed: " + "; ".join(f"{r.host}: {r.detail} {' '.join(r.drift)}"
                                                             for r in failed))
    down = [r for r in done.resolvers if not r.ok]
    if down:
        raise LabError("names resolver failed: " + "; ".join(f"{r.host}: {r.detail}" for r in down))
    for host in layout.hosts:
        netns.enslave_nic(layout, host, cluster.network.bridge)
    say(f"network {cluster.network.name}: bridge {cluster.network.bridge} on every host, eth0 enslaved, "
        f"router {layout.router}" + (", names resolver on every host" if done.resolvers else ""))


def _quiet_on_failure(say: Say) -> Say:
    """Progress that cannot break the build: a closed terminal must not leave a half-built lab behind."""
    def safe(line: str) -> None:
        try:
            say(line)
        except (OSError, ValueError):
            pass
    return safe


def lab_up(name: Optional[str], subnet: Optional[str], hosts: Optional[int], directory: str,
           say: Say, etcd_members: Optional[int] = None,
           bare: Optional[bool] = None) -> Tuple[Dict[str, Any], bool, float]:
    """Build the lab (or find it running); returns (status, already_running, seconds taken).

    A parameter given as None takes the value of the lab that runs in ``directory``, else its default.
    ``bare``: hosts with Docker and sshd, each address on its eth0, and no bridge and no network, as a
    machine is before docs/real-hosts.md's steps.
    """
    began = time.monotonic()
    say = _quiet_on_failure(say)
    recorded = state.read_state(directory) or {}
    layout = make_layout(name or recorded.get("name") or DEFAULT_NAME,
                         subnet or recorded.get("subnet") or DEFAULT_SUBNET,
                         hosts or int(recorded.get("hosts") or DEFAULT_HOSTS), directory)
    members = lab_etcd.check_count(etcd_members or lab_etcd.member_count(layout))
    require_root()
    require_tools()
    if recorded and lab_etcd.member_count(layout) != members and _any_alive(layout):
        raise LabError(f"the lab in {layout.dir} runs {lab_etcd.member_count(layout)} etcd member(s), not "
                       f"{members}; run `nap-compose lab down --dir {layout.dir}` first")
    bare = bool(recorded.get("bare")) if bare is None else bare
    if recorded and bool(recorded.get("bare")) != bare and _any_alive(layout):
        raise LabError(f"the lab in {layout.dir} runs {'without' if bare else 'with'} --bare; run "
                       f"`nap-compose lab down --dir {layout.dir}` first")
    running = _clear_the_way(layout, say)
    if running is not None:
        return running, True, time.monotonic() - began
    for path in [layout.dir, layout.etcd_dir, layout.registry_dir] + [h.dir for h in layout.hosts]:
        os.makedirs(path, exist_ok=True)
    state.write_claim(layout)
    try:
        state.write_state(layout, "wiring", {})
        lab_etcd.record(layout, members)
        lab_etcd.make_certs(layout)
        sshd.prepare_ssh(layout)
        netns.build_wiring(layout)
        lab_etcd.add_addresses(layout)
        say(f"wired {len(layout.hosts)} host namespace(s) and the router ({layout.router}) to switch "
            f"{layout.switch} (operator {layout.operator})")
        pids = _start(layout, say)
        write_cluster_file(layout)
        _import_images(layout, say)
        if bare:
            say("bare: no bridge and no network on the hosts; each host's address is on its eth0")
        else:
            _flat_network(layout, say)
        state.write_state(layout, "ready", pids, seconds=round(time.monotonic() - began, 1), bare=bare)
    except BaseException:
        say("lab up failed; stopping what it started (logs stay in the lab directory)")
        teardown(layout, say, keep_files=True)
        state.write_state(layout, "failed", {})
        state.drop_claim(layout)
        raise
    return health(layout), False, time.monotonic() - began


def lab_down(directory: str, say: Say) -> List[str]:
    """Tear down the lab recorded in DIR; returns what could not be removed."""
    recorded = state.read_state(directory)
    if recorded is None:
        raise LabError(f"no lab in {os.path.abspath(directory)} (no state.json)")
    require_root()
    layout = state.layout_of(recorded)
    left = teardown(layout, _quiet_on_failure(say))
    state.drop_claim(layout)
    return left


def revive_host(directory: str, host_name: str) -> str:
    """``lab revive``: start a killed host's dockerd and sshd again, in its own namespaces."""
    return faults.revive(directory, host_name, lambda layout, keys: _start(layout, lambda line: None, list(keys)))


def lab_status(directory: str) -> Dict[str, Any]:
    recorded = state.read_state(directory)
    if recorded is None:
        raise LabError(f"no lab in {os.path.abspath(directory)} (no state.json)")
    status = health(state.layout_of(recorded))
    status["phase"] = recorded.get("phase")
    return status


def exec_argv(directory: str, host_name: str, command: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """The argv and environment that run ``command`` in a lab host's namespace with its DOCKER_HOST."""
    recorded = state.read_state(directory)
    if recorded is None:
        raise LabError(f"no lab in {os.path.abspath(directory)} (no state.json)")
    layout = state.layout_of(recorded)
    host = layout.host(host_name)
    if not netns.netns_exists(host.netns):
        raise LabError(f"{host_name}: namespace {host.netns} is gone; run `nap-compose lab up` again")
    if not mountns.is_ns_mount(host.mount_ns):
        raise LabError(f"{host_name}: its mount namespace {host.mount_ns} is gone; run `nap-compose lab up` again")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "ETCDCTL_"))}
    env["DOCKER_HOST"] = f"unix://{host.docker_sock}"
    argv = list(command) or [os.environ.get("SHELL", "/bin/sh")]
    # The host's own view: the operator's files are not there, as on a separate machine.
    return netns.in_host(host, argv), env
