"""Is a process of this machine still there? For the project lock: a holder that crashed on this very
machine leaves a lock a later run need not wait out.

A pid alone says little: another kernel (another machine, a reboot) or another pid namespace (a
container) numbers its processes independently, and a pid is reused once its process ended. So a
process is named by its process table (the kernel's boot id and the pid namespace) plus its pid and
start time (``/proc/<pid>/stat``, clock ticks since boot). A holder counts as gone only when its
process table is ours and no process with its pid and start time exists; anything unknown or
unreadable counts as alive, which only means waiting for the lease.
"""

from __future__ import annotations

import os
from typing import Optional

from napcompose.lock import Holder

PROC = "/proc"


def process_table(proc: str = PROC) -> str:
    """``<boot id>:<pid namespace inode>``, or "" when either cannot be read."""
    try:
        with open(os.path.join(proc, "sys/kernel/random/boot_id")) as f:
            boot = f.read().strip()
        namespace = os.stat(os.path.join(proc, "self/ns/pid")).st_ino
    except OSError:
        return ""
    return f"{boot}:{namespace}" if boot else ""


def start_time(pid: int, proc: str = PROC) -> Optional[str]:
    """When process ``pid`` started (field 22 of its stat line), or None when there is no such process."""
    try:
        with open(os.path.join(proc, str(int(pid)), "stat")) as f:
            line = f.read()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = line[line.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def holder_gone(holder: Holder, proc: str = PROC) -> bool:
    """True only when ``holder`` ran in this process table and its process is no longer there."""
    if not holder.process_table or not holder.started:
        return False
    if holder.process_table != process_table(proc):
        return False
    return start_time(holder.pid, proc) != holder.started
