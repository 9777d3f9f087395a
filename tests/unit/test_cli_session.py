"""One session per command: one store client, one set of connections, every host asked at once."""

import pytest

from tests.unit.test_network_check import cli  # noqa: F401 (the fixture)


@pytest.mark.parametrize("argv", [["ipam", "gc"], ["ipam", "gc", "--yes"], ["ipam", "ls"], ["ipam", "ls", "--all"],
                                  ["network", "check"], ["ipam", "reserve", "--owner", "shop/web/1"],
                                  ["host", "ls"], ["network", "create"], ["network", "create", "--dry-run"],
                                  ["network", "rm", "--host", "node1"]])
def test_a_command_opens_one_store_client(cli, argv):  # noqa: F811
    from tests.unit.test_ipam_cli import FakeEngine

    cli.wiring.engines = {name: FakeEngine(name, []) for name in ("node1", "node2", "node3")}
    cli.wiring.opened = 0
    status, _, err = cli(*argv)
    assert status in (0, 1), err
    assert cli.wiring.opened == 1


def test_command_modules_do_not_import_each_other():
    import ast
    import pathlib

    cli_dir = pathlib.Path(__file__).resolve().parents[2] / "napcompose" / "cli"
    found = []
    for path in sorted(cli_dir.glob("*_cmd.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name} imports {n}" for n in names
                      if n.startswith("napcompose.cli.") and n.endswith("_cmd")]
    assert not found, "shared helpers belong in cli/common.py or cli/session.py:\n" + "\n".join(found)


def test_network_rm_with_a_store_out_of_reach_touches_no_host(cli):  # noqa: F811
    from napcompose.errors import StoreError

    def unreachable(cluster):
        raise StoreError("etcd://198.18.0.250:2379: connection refused")

    cli.wiring.store = unreachable
    assert cli("network", "rm", "--host", "node2") == (
        4, "", "ERROR: etcd://198.18.0.250:2379: connection refused\n")
    assert cli.wiring.fake.calls == []  # no host was asked


class _Opened:
    def __init__(self):
        self.closed = 0

    def close(self):
        self.closed += 1

    def get(self, key):
        return ("value", 1)


def test_a_store_warmed_is_opened_once_in_the_background_and_closed_after_it():
    import threading

    from napcompose.cli.session import LazyStore

    release, calls = threading.Event(), []

    def opener():
        calls.append(threading.current_thread().name)
        release.wait(5)
        return store

    store = _Opened()
    lazy = LazyStore(opener)
    lazy.warm()
    lazy.warm()  # once
    release.set()
    assert lazy.get("k") == ("value", 1) and lazy.opened() is store
    assert calls == ["store-open"]  # opened by the background thread, not by the first use
    lazy.close()
    assert store.closed == 1


def test_a_store_that_fails_to_open_in_the_background_fails_its_first_use_once():
    from napcompose.errors import StoreError
    from napcompose.cli.session import LazyStore

    attempts = []

    def opener():
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreError("cannot reach etcd at 198.18.0.9:2379: refused")
        return _Opened()

    lazy = LazyStore(opener)
    lazy.warm()
    with pytest.raises(StoreError) as caught:
        lazy.get("k")
    assert str(caught.value) == "cannot reach etcd at 198.18.0.9:2379: refused" and len(attempts) == 1
    assert lazy.get("k") == ("value", 1) and len(attempts) == 2  # a later use opens afresh


def test_a_store_warmed_and_never_used_is_closed_with_the_command():
    from napcompose.cli.session import LazyStore

    store = _Opened()
    lazy = LazyStore(lambda: store)
    lazy.warm()
    lazy.close()
    assert store.closed == 1
