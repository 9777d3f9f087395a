"""A command closes the store it opened, and only after it released the project lock."""

from tests.fakes_kv import MemoryKV
from tests.unit.test_cli_project import Cli


class ClosingKV(MemoryKV):
    """A MemoryKV that refuses use after close, like a store whose client session has ended."""

    def __init__(self):
        super().__init__()
        self.closed = 0

    def close(self):
        self.closed += 1

    def __getattribute__(self, name):
        if name not in ("close", "closed", "__dict__", "__class__") and object.__getattribute__(self, "closed"):
            raise AssertionError(f"store used after close: {name}")
        return object.__getattribute__(self, name)


def _cli(tmp_path):
    cli = Cli(tmp_path)
    cli.kv = cli.wiring.kv = ClosingKV()
    return cli


def test_up_and_down_close_the_store_after_the_lock_is_released(tmp_path):
    cli = _cli(tmp_path)
    status, _, err = cli("up", "-d")
    assert status == 0, err
    assert cli.kv.closed >= 1
    cli.kv.closed = 0
    assert [k for k in cli.kv.list("") if "/lock" in k] == []  # released before the store closed
    status, _, err = cli("down")
    assert status == 0, err
    assert cli.kv.closed >= 1

