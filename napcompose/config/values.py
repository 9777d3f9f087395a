"""Parsers for compose value forms: ports, durations, byte sizes, booleans, numbers, commands."""

from __future__ import annotations

import math
import re
import shlex

from napcompose.model import PortSpec

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)b?$", re.IGNORECASE)
_PORT_RANGE = r"\d+(?:-\d+)?"
_PORT = re.compile(
    rf"^(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?P<host>{_PORT_RANGE})?:)?"
    rf"(?P<container>{_PORT_RANGE})(?:/(?P<proto>tcp|udp|sctp))?$")


class ValueProblem(ValueError):
    """A value that does not parse; the caller adds where it came from."""


def duration(value) -> float:
    """'1m30s' -> 90.0; a bare number counts seconds."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueProblem(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text or not math.isfinite(total):
        raise ValueProblem(f"{value!r} is not a duration (write e.g. '10s', '1m30s', '500ms')")
    return total


def byte_size(value) -> int:
    """'512m' -> 536870912; integers are bytes."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueProblem(f"{value!r} is not a size")
    if isinstance(value, (int, float)):
        return int(value)
    match = _BYTES.match(str(value).strip())
    if not match:
        raise ValueProblem(f"{value!r} is not a size (write e.g. '512m', '1g' or a number of bytes)")
    power = "kmgtp".find(match.group(2).lower()) + 1 if match.group(2) else 0
    size = float(match.group(1)) * (1024 ** power)
    if not math.isfinite(size):
        raise ValueProblem(f"{value!r} is too large a size")
    return int(size)


def boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueProblem(f"{value!r} is not a boolean")


def integer(value) -> int:
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise ValueProblem(f"{value!r} is not an integer") from None


def number(value) -> float:
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueProblem(f"{value!r} is not a number") from None
    if not math.isfinite(result):
        raise ValueProblem(f"{value!r} is not a finite number")
    return result


def command(value):
    """A command as an argv tuple; a string is split the way a POSIX shell would split it."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ValueProblem(f"{value!r} cannot be split into words: {exc}") from None
    return tuple(str(v) for v in value)


def _port_number(digits):
    digits = digits.lstrip("0") or "0"
    # Anything longer is out of range anyway; int() of thousands of digits would raise ValueError.
    return int(digits) if len(digits) <= 5 else 65536


def _range(text):
    first, _, last = text.partition("-")
    low, high = _port_number(first), _port_number(last or first)
    if not (0 < low <= high <= 65535):
        raise ValueProblem(f"port range {text!r} is out of 1-65535 or reversed")
    return list(range(low, high + 1))


def ports(value):
    """One ``ports`` entry as a list of PortSpec (ranges expanded)."""
    if isinstance(value, dict):
        return _long_port(value)
    if isinstance(value, bool):
        raise ValueProblem(f"invalid port {value!r}")
    match = _PORT.match(str(value).strip())
    if not match:
        raise ValueProblem(f"invalid port {value!r} (write e.g. '80', '8080:80', '127.0.0.1:8080:80/udp')")
    ip = match.group("ip")
    if ip is None and match.group("host") is None and ":" in str(value):
        # ':80' (often '${PORT}:80' with PORT empty): zero host ports for one container port. Only an
        # address may stand before an empty host part ('127.0.0.1::80' picks a free port).
        raise ValueProblem(f"invalid port {value!r}: the host and container ranges differ in length "
                           "(the host port before ':' is empty)")
    containers = _range(match.group("container"))
    proto = match.group("proto") or "tcp"
    if ip:
        ip = ip.strip("[]")
    host = match.group("host")
    if host is None:
        return [PortSpec(container_port=c, protocol=proto, host_ip=ip) for c in containers]
    hosts = _range(host)
    if len(hosts) != len(containers):
        if len(hosts) > 1:
            raise ValueProblem(f"invalid port {value!r}: the host and container ranges differ in length")
        hosts = hosts * len(containers) if len(containers) == 1 else None
        if hosts is None:
            raise ValueProblem(f"invalid port {value!r}: the host and container ranges differ in length")
    return [PortSpec(container_port=c, protocol=proto, host_port=h, host_ip=ip) for h, c in zip(hosts, containers)]


def _long_port(value):
    """The long form: ``target`` (one port), ``published`` (a port or a range, string or number), ``host_ip``."""
    target = integer(value.get("target"))
    protocol = str(value.get("protocol") or "tcp")
    if protocol not in ("tcp", "udp", "sctp"):
        raise ValueProblem(f"protocol {protocol!r} is not tcp, udp or sctp")
    ip = value.get("host_ip")
    ip = None if ip in (None, "") else str(ip).strip("[]")
    published = value.get("published")
    if published is None or published == "":
        return [PortSpec(container_port=target, protocol=protocol, host_ip=ip)]
    text = str(published).strip()
    if isinstance(published, bool) or not re.fullmatch(r"\d+(-\d+)?", text):
        raise ValueProblem(f"published {published!r} is not a port or a range of ports")
    hosts = _range(text)
    if len(hosts) != 1:
        # As for '8000-8010:80': the engine would pick one of the range, and nothing here could tell
        # which one a replica got.
        raise ValueProblem(f"published {published!r}: a range of host ports for one container port is not "
                           "supported; publish one port")
    return [PortSpec(container_port=target, protocol=protocol, host_port=hosts[0], host_ip=ip)]


def expose(value):
    text = str(value).strip()
    port, _, proto = text.partition("/")
    if proto and proto not in ("tcp", "udp", "sctp"):
        raise ValueProblem(f"invalid exposed port {value!r}")
    try:
        return [PortSpec(container_port=p, protocol=proto or "tcp") for p in _range(port)]
    except ValueError:
        raise ValueProblem(f"invalid exposed port {value!r}") from None
