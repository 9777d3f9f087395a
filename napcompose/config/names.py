"""Names that reach a hosts file or a command line: service names, aliases, hostnames and the like."""

from __future__ import annotations

import re

from napcompose.errors import ConfigError

_LABEL = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def is_valid_name(value) -> bool:
    return isinstance(value, str) and _LABEL.fullmatch(value) is not None


def check_name(value, where: str, service: str, key: str) -> None:
    """Raise ConfigError unless ``value`` is a hosts-file-safe name; the message shows it with repr."""
    if not is_valid_name(value):
        raise ConfigError(
            f"{where}: service '{service}': {key}: {value!r} is not a valid name (use letters, digits, "
            "'-', '_' and '.', starting with a letter or digit)")


def normalize_project_name(name: str) -> str:
    """Lower-case and keep only ``a-z 0-9 - _``, as docker-compose does."""
    return re.sub(r"[^-_a-z0-9]", "", name.lower())
