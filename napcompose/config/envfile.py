"""Environment files (``.env``, ``--env-file``, a service's ``env_file``): ``KEY=VALUE`` lines."""

from __future__ import annotations

import re

from napcompose.config.names import shown
from napcompose.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def parse_env_text(text: str, filename: str, verbatim: bool = False) -> dict:
    """Parse env-file text. A bare ``KEY`` maps to None (take it from the environment, if any).

    ``verbatim`` (an ``env_file`` entry's ``format: raw``) keeps each value exactly as written after ``=``:
    no quotes removed, no escapes, no comments.
    """
    result = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not _KEY.match(key):
            raise ConfigError(f"{filename}:{number}: invalid variable name {shown(key)} in environment file")
        if not sep:
            result[key] = None
            continue
        result[key] = value if verbatim else _value(value.strip())
    return result


def _value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == '"':
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        return inner
    # An unquoted value ends at " #": the rest of the line is a comment.
    hash_at = value.find(" #")
    return value[:hash_at].rstrip() if hash_at >= 0 else value


def read_env_file(path: str, display: str = None, required: bool = True, verbatim: bool = False) -> dict:
    """Read and parse an env file; a missing file is an error only when ``required``."""
    display = display or path
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(4 * 1024 * 1024)
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(f"environment file {display} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"environment file {display}: cannot read it: {exc}") from None
    return parse_env_text(text, display, verbatim)
