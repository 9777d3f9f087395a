"""The managed hosts block: peers per link, rendering, merging into Docker's file, validation."""

import pytest
from hypothesis import given, settings, strategies as st

from napcompose.errors import ConfigError
from napcompose.names.hostsfile import KnownNames, extract_block, merge, peer_entries, render_block, validate_name
from napcompose.model import Link, Project, Replica, ServiceSpec

DOCKER = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
          "198.18.0.101\t3f2a1b0c9d8e\n")


def project():
    return Project(name="gb", services=(
        ServiceSpec(name="db", image="redis"),
        ServiceSpec(name="web", image="busybox", links=(Link("db", "database"), Link("cache", "cache"))),
        ServiceSpec(name="cache", image="redis"),
    ))


def test_peer_entries_first_replica_gets_alias_and_service_name_every_replica_its_own_names():
    addresses = {Replica("gb", "db", 2): "198.18.0.12", Replica("gb", "db", 1): "198.18.0.11",
                 Replica("gb", "cache", 1): "198.18.0.20", Replica("gb", "web", 1): "198.18.0.30"}
    assert peer_entries(project(), "web", addresses) == (
        ("198.18.0.11", ("db_1", "gb_db_1", "database", "db")),
        ("198.18.0.12", ("db_2", "gb_db_2")),
        ("198.18.0.20", ("cache_1", "gb_cache_1", "cache")),
    )


def test_peer_entries_without_links_or_replicas_are_empty():
    assert peer_entries(project(), "db", {Replica("gb", "web", 1): "198.18.0.30"}) == ()
    assert peer_entries(project(), "web", {}) == ()


def test_peer_entries_use_the_lowest_index_present():
    addresses = {Replica("gb", "db", 3): "198.18.0.13", Replica("gb", "db", 2): "198.18.0.12"}
    entries = dict(peer_entries(project(), "web", addresses))
    assert entries["198.18.0.12"] == ("db_2", "gb_db_2", "database", "db")


def test_render_block_sorts_by_address_and_joins_names_with_single_spaces():
    block = render_block("gb", [("198.18.0.20", ("cache_1",)), ("198.18.0.9", ("db_1", "db")),
                                ("198.18.0.9", ("db", "database"))])
    assert block == ("# BEGIN nap-compose gb\n198.18.0.9 db_1 db database\n198.18.0.20 cache_1\n"
                     "# END nap-compose gb\n")
    assert "\t" not in block


def test_empty_block_is_just_the_markers():
    assert render_block("gb", []) == "# BEGIN nap-compose gb\n# END nap-compose gb\n"


def test_merge_appends_then_replaces_keeping_dockers_lines():
    first = render_block("gb", [("198.18.0.11", ("db",))])
    once = merge(DOCKER, "gb", first)
    assert once == DOCKER + first
    second = render_block("gb", [("198.18.0.12", ("db",))])
    twice = merge(once, "gb", second)
    assert twice == DOCKER + second
    assert merge(twice, "gb", second) == twice


def test_merge_keeps_lines_docker_added_after_the_block_in_place():
    block = render_block("gb", [("198.18.0.11", ("db",))])
    text = merge(DOCKER, "gb", block) + "198.18.1.7\tother-net-alias\n"
    new = render_block("gb", [("198.18.0.13", ("db",))])
    assert merge(text, "gb", new) == DOCKER + new + "198.18.1.7\tother-net-alias\n"


def test_merge_leaves_other_projects_blocks_alone():
    other = render_block("shop", [("198.18.0.50", ("api",))])
    mine = render_block("gb", [("198.18.0.11", ("db",))])
    assert merge(DOCKER + other, "gb", mine) == DOCKER + other + mine


def test_merge_drops_a_stray_begin_marker_but_not_the_lines_after_it():
    torn = DOCKER + "# BEGIN nap-compose gb\n198.18.0.11 cache\n"
    block = render_block("gb", [("198.18.0.12", ("db",))])
    assert merge(torn, "gb", block) == DOCKER + "198.18.0.11 cache\n" + block


def test_merge_drops_docker_lines_that_give_a_name_of_the_block_another_address():
    # extra_hosts written by Docker at create time, before the peer moved to a new address
    created = DOCKER + "198.18.0.11\tdb_1\n198.18.0.11\tdb\n198.18.0.13\tdb_2 cache\n198.18.0.14\tweb\n"
    block = render_block("gb", [("198.18.0.12", ("db_1", "db")), ("198.18.0.14", ("web",))])
    merged = merge(created, "gb", block)
    assert merged == DOCKER + "198.18.0.13\tdb_2 cache\n198.18.0.14\tweb\n" + block
    assert merge(merged, "gb", block) == merged


def test_merge_adds_the_missing_final_newline():
    block = render_block("gb", [])
    assert merge("127.0.0.1\tlocalhost", "gb", block) == "127.0.0.1\tlocalhost\n" + block


def test_extract_block():
    block = render_block("gb", [("198.18.0.11", ("db",))])
    assert extract_block(DOCKER + block + "10.9.9.9\tx\n", "gb") == block
    assert extract_block(DOCKER, "gb") is None
    assert extract_block(DOCKER + block, "shop") is None


@pytest.mark.parametrize("name", ["web", "db_1", "a.b-c", "9lives", "X"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-web", "_db", "web\n10.6.6.6 bank", "a b", "web;reboot", "$(id)",
                                  "wéb", ".hidden"])
def test_invalid_names_are_config_errors_showing_the_name(name):
    with pytest.raises(ConfigError) as err:
        validate_name(name)
    assert str(err.value) == (f"invalid name {name!r} for a hosts file: "
                              "names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")


def test_a_bad_alias_never_reaches_a_block():
    bad = Project(name="gb", services=(ServiceSpec(name="db"),
                                       ServiceSpec(name="web", links=(Link("db", "db\n6.6.6.6 bank"),))))
    with pytest.raises(ConfigError) as err:
        peer_entries(bad, "web", {Replica("gb", "db", 1): "198.18.0.11"})
    assert str(err.value).startswith("invalid name 'db\\n6.6.6.6 bank' for a hosts file")


def test_render_rejects_an_address_with_whitespace():
    with pytest.raises(ConfigError) as err:
        render_block("gb", [("198.18.0.1\n1.2.3.4", ("db",))])
    assert str(err.value) == "invalid address '198.18.0.1\\n1.2.3.4' for a hosts file"


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
addresses = st.builds(lambda a, b: f"198.18.{a}.{b}", st.integers(0, 3), st.integers(1, 254))
entries = st.lists(st.tuples(addresses, st.lists(names, min_size=1, max_size=3).map(tuple)), max_size=6)
docker_line = st.sampled_from(["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost", "198.18.0.7\tabc123",
                               "# a comment", "", "fe00::0\tip6-localnet"])


@settings(max_examples=80, deadline=None)
@given(lines=st.lists(docker_line, max_size=8), first=entries, second=entries)
def test_merge_is_idempotent_and_keeps_every_other_line(lines, first, second):
    existing = "".join(line + "\n" for line in lines)
    one = merge(existing, "gb", render_block("gb", first))
    assert merge(one, "gb", render_block("gb", first)) == one
    two = merge(one, "gb", render_block("gb", second))
    assert extract_block(two, "gb") == render_block("gb", second)
    block = extract_block(two, "gb")
    assert two.count(block) == 1
    assert two.replace(block, "").splitlines() == lines


@settings(max_examples=50, deadline=None)
@given(first=st.dictionaries(addresses, st.lists(names, min_size=1, max_size=3).map(tuple), max_size=6))
def test_render_is_independent_of_entry_order(first):
    items = list(first.items())
    assert render_block("gb", items) == render_block("gb", list(reversed(items)))


def test_depends_on_targets_resolve_like_links_without_alias():
    from napcompose.model import Dependency

    proj = Project(name="gb", services=(
        ServiceSpec(name="db", image="redis"),
        ServiceSpec(name="cache", image="redis"),
        ServiceSpec(name="web", image="busybox", links=(Link("db", "database"),),
                    depends_on=(Dependency("db"), Dependency("cache", "service_healthy"))),
    ))
    addresses = {Replica("gb", "db", 1): "198.18.0.11", Replica("gb", "cache", 1): "198.18.0.20",
                 Replica("gb", "cache", 2): "198.18.0.21"}
    assert peer_entries(proj, "web", addresses) == (
        ("198.18.0.11", ("db_1", "gb_db_1", "database", "db")),
        ("198.18.0.20", ("cache_1", "gb_cache_1", "cache")),
        ("198.18.0.21", ("cache_2", "gb_cache_2")),
    )


def test_network_aliases_of_a_linked_service_resolve_to_its_first_replica():
    from napcompose.model import NetworkAttachment

    proj = Project(name="gb", services=(
        ServiceSpec(name="db", image="redis",
                    networks=(NetworkAttachment("back", aliases=("store", "db")), NetworkAttachment("front"))),
        ServiceSpec(name="web", image="busybox", links=(Link("db", "database"),),
                    networks=(NetworkAttachment("front"),)),
    ))
    addresses = {Replica("gb", "db", 1): "198.18.0.11", Replica("gb", "db", 2): "198.18.0.12"}
    assert peer_entries(proj, "web", addresses) == (
        ("198.18.0.11", ("db_1", "gb_db_1", "database", "db", "store")),
        ("198.18.0.12", ("db_2", "gb_db_2")),
    )


BLOCK = render_block("gb", [("198.18.0.11", ("db_1", "database", "db"))])


KEPT = ["", DOCKER,
        DOCKER + "198.18.0.11\tdb_1\n",  # Docker's copy of a create-time name, agreeing with the block
        DOCKER + "# END nap-compose gb\n",  # an END alone is no block
        DOCKER + "x # BEGIN nap-compose gb\n",  # nor is a marker inside a line
        DOCKER + "198.18.0.11\tdb_1\n198.18.0.30\tweb_1\n"]  # the replicas' run, kept as one piece
CHANGED = [DOCKER + "198.18.0.99\tdb_1\n",  # the same name at an old address: stale
           DOCKER.replace("\n", "\r\n"),  # joined back with "\n" alone it changes
           DOCKER + "# BEGIN nap-compose gb  \n",  # a stray marker with trailing blanks
           DOCKER + "10.0.0.1\ta\x0bb\n",  # a line break splitlines knows besides "\n"
           "127.0.0.1\tlocalhost",  # no final newline before the block
           "::1\tlocalhost\r\n198.18.0.11\tdb_1\n198.18.0.30\tweb_1\n"]  # a "\r\n" beside the run


@pytest.mark.parametrize("above", KEPT + CHANGED)
@pytest.mark.parametrize("known", [None, {"db_1": "198.18.0.11", "web_1": "198.18.0.30"},
                                   KnownNames({"db_1": "198.18.0.11", "web_1": "198.18.0.30"},
                                              [("db_1", "198.18.0.11"), ("web_1", "198.18.0.30")])])
def test_a_file_whose_block_is_right_is_given_back_as_is_only_when_merging_it_whole_would(above, known,
                                                                                          monkeypatch):
    from napcompose.names import hostsfile

    existing = above + BLOCK
    quick = merge(existing, "gb", BLOCK, known)
    monkeypatch.setattr(hostsfile, "_unchanged", lambda *args: False)  # every file taken apart line by line
    assert quick == merge(existing, "gb", BLOCK, known)
    assert (quick == existing) == (above in KEPT)
