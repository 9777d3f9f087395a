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


_SHOWABLE = re.compile(r"[\w .@+/-]{1,40}")


def shown(value) -> str:
    """``value`` as an error may quote it: its repr when it is short and looks like a name, else a note.

    A compose file can point ``env_file`` or ``extends`` at any file the operator can read; an error
    that quoted the offending line would print, say, /etc/shadow's first line into a CI log.
    """
    if isinstance(value, str) and _SHOWABLE.fullmatch(value):
        return repr(value)
    return "(not shown: it is not a name, and the file may hold secrets)"


def normalize_project_name(name: str) -> str:
    """Lower-case and keep only ``a-z 0-9 - _``, as docker-compose does."""
    return re.sub(r"[^-_a-z0-9]", "", name.lower())
