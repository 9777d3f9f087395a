"""The moments ``logs --since/--until`` and ``events --since/--until`` take, as docker compose reads them:
a Unix time (``1700000000``, ``1700000000.5``), an RFC 3339 date (``2026-12-06T11:00:00Z``,
``2026-12-06``), or a duration back from now (``10m``, ``1h30m``, ``45s``)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from napcompose.errors import UsageError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+")


def moment(flag: str, text: str, now: float) -> float:
    """``text`` as seconds since the epoch; a UsageError naming ``flag`` and the text when unreadable."""
    value = (text or "").strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        return float(value)
    if _DURATION.fullmatch(value):
        return now - sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"invalid {flag} '{text}': expected a Unix time, an RFC 3339 date "
                         "(2026-12-06T11:00:00Z) or a duration such as 10m or 1h30m") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()
