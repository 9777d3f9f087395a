"""Telling that a lock holder's process ended, from /proc: the real one, and made-up ones."""

import os
import subprocess
import sys

from napcompose.adapters.processes import holder_gone, process_table, start_time
from napcompose.lock import Holder


def _holder(pid, table=None, started=None):
    return Holder("u", "m", pid, "nap-compose up", process_table() if table is None else table,
                  start_time(pid) if started is None else started)


def test_this_process_is_alive_and_a_reaped_child_is_gone():
    assert process_table() and start_time(os.getpid())
    assert not holder_gone(_holder(os.getpid()))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = _holder(child.pid)
    assert holder.started and not holder_gone(holder)
    child.kill()
    child.wait()
    assert holder_gone(holder)


def test_a_reused_pid_is_another_process():
    assert holder_gone(_holder(os.getpid(), started="1"))


def test_a_holder_of_another_process_table_or_without_one_is_never_judged():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not holder_gone(_holder(child.pid, table="another-boot:4026531836", started="1"))
    assert not holder_gone(_holder(child.pid, table="", started=""))
    assert not holder_gone(Holder("u", "m", child.pid, "c"))


def test_a_command_name_with_spaces_and_parentheses_is_skipped(tmp_path):
    (tmp_path / "sys/kernel/random").mkdir(parents=True)
    (tmp_path / "sys/kernel/random/boot_id").write_text("b\n")
    (tmp_path / "self/ns").mkdir(parents=True)
    os.symlink("/proc/self/ns/pid", tmp_path / "self/ns/pid")
    (tmp_path / "42").mkdir()
    fields = " ".join(str(n) for n in range(3, 23))  # fields 3..22: the 22nd, the start time, is "22"
    (tmp_path / "42/stat").write_text(f"42 (a (b) c) {fields} 23 24\n")
    assert start_time(42, str(tmp_path)) == "22"
    assert start_time(43, str(tmp_path)) is None
    table = process_table(str(tmp_path))
    assert table.startswith("b:")
    assert not holder_gone(Holder("u", "m", 42, "c", table, "22"), str(tmp_path))
    assert holder_gone(Holder("u", "m", 42, "c", table, "21"), str(tmp_path))
    assert holder_gone(Holder("u", "m", 43, "c", table, "22"), str(tmp_path))
