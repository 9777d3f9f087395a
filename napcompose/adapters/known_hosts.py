"""Reading an OpenSSH known_hosts file, marker lines included.

paramiko's own reader stops at the first ``@cert-authority`` or ``@revoked`` line with an
InvalidHostKey, so a known_hosts file that trusts a host CA made every command fail. Here:

- ``@cert-authority`` lines are skipped: paramiko cannot check host certificates, so a host signed by
  a CA must also be listed with its own key (or be accepted with --accept-new-host-keys);
- ``@revoked`` keys are collected and refused, whether a host offers them as known or as new;
- a line that does not parse is an error naming the file and the line.
"""

from __future__ import annotations

from typing import FrozenSet, Tuple

import paramiko
from paramiko.hostkeys import HostKeyEntry

from napcompose.errors import NapComposeError

Revoked = FrozenSet[Tuple[str, str]]  # (key type, base64 of the key)


def load_known_hosts(path: str, into: paramiko.HostKeys) -> Revoked:
    """Add every plain entry of ``path`` to ``into``; the revoked keys it lists."""
    revoked = set()
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("@cert-authority"):
            continue
        marker_revoked = line.startswith("@revoked")
        if marker_revoked:
            line = line[len("@revoked"):].strip()
        try:
            entry = HostKeyEntry.from_line(line, number)
        except Exception as exc:  # paramiko's InvalidHostKey and the decoding errors under it
            raise NapComposeError(f"{path}:{number}: not a known_hosts line ({type(exc).__name__})") from exc
        if entry is None:  # a key type paramiko does not know: unusable, as in paramiko's own reader
            continue
        if marker_revoked:
            revoked.add((entry.key.get_name(), entry.key.get_base64()))
            continue
        for name in entry.hostnames:
            into.add(name, entry.key.get_name(), entry.key)
    return frozenset(revoked)


def is_revoked(key: paramiko.PKey, revoked: Revoked) -> bool:
    return (key.get_name(), key.get_base64()) in revoked
