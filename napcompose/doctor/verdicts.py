"""The checks ``doctor`` makes and the verdict each gives: ok, warn (works, but see the fix), fail, skip."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, Iterable, Tuple

from napcompose.errors import ExitStatus


class Level(str, enum.Enum):
    OK = "ok"
    WARN = "warn"  # works, with a cost or a risk the detail names
    FAIL = "fail"  # the product cannot work here until fixed
    SKIP = "skip"  # not asked: an earlier check failed, or the cluster file does not use it


# Every check, in the order its lines are printed, with what it asks.
CHECKS: Tuple[Tuple[str, str], ...] = (
    ("ssh", "the SSH connection and the host's key in known_hosts"),
    ("docker", "the Docker daemon answers; its version and API version (1.41 or later)"),
    ("docker-route", "how the Docker API is reached: a stream-local channel to the socket, or dial-stdio"),
    ("bridge", "the bridge exists, holds the host's address, and has the host's NIC as a port"),
    ("mtu", "the bridge's MTU is network.mtu and the NIC carries it"),
    ("bridge-netfilter", "whether frames crossing the bridge pass through iptables (net.bridge.bridge-nf-call-*)"),
    ("clock", "the host's clock against this machine's"),
    ("state-dir", "the host's state directory can be written (project files, names files)"),
    ("programs", "the host's programs nap-compose runs: python3 (files in one command; the isolation's "
                 "announcements), nft and nsenter (the isolation groups)"),
    ("resolver", "the names resolver runs and answers on the host's address, port 53"),
    ("store", "the address store answers"),
    ("store-tls", "the store is reached over TLS with a client certificate"),
    ("store-members", "every store endpoint in the cluster file is healthy"),
    ("pool", "free addresses in the pool"),
)
CHECK_NAMES = tuple(name for name, _ in CHECKS)


@dataclass(frozen=True)
class Verdict:
    """One line of the report: the subject (a host's name, or ``store``), the check, its level, what
    was found, and what to do about it when the level is not ok."""

    subject: str
    check: str
    level: Level
    detail: str
    fix: str = ""

    def as_dict(self) -> Dict[str, str]:
        return {"subject": self.subject, "check": self.check, "level": self.level.value, "detail": self.detail,
                "fix": self.fix}


def exit_status(verdicts: Iterable[Verdict]) -> int:
    """1 when any check failed; warnings and skips leave it 0."""
    return int(ExitStatus.ERROR if any(v.level is Level.FAIL for v in verdicts) else ExitStatus.OK)
