"""Variable substitution in compose values: ``$VAR ${VAR} ${VAR:-d} ${VAR-d} ${VAR:?m} ${VAR?m} $$``.

The environment is an argument; nothing here reads ``os.environ``. Containers are rebuilt rather than
changed in place, because YAML aliases share one object between several places.
"""

from __future__ import annotations

import re

from napcompose.config.yamlload import Map, Seq, line_of
from napcompose.errors import ConfigError

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*)"
    r"|\{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<invalid>))")


class Interpolated(str):
    """A string that had variables in it; schema checks may read it as a number or boolean."""


class _Bad(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


def substitute(text: str, environ, missing: set, defaults: bool = True) -> str:
    """Expand one string; unset names without a default are added to ``missing`` and become ''.

    ``defaults=False`` (version 1 files) allows only ``$VAR``, ``${VAR}`` and ``$$``, as docker-compose
    1.29.2 does there: ``${VAR:-x}`` and the other forms are an invalid format.
    """

    def replace(match):
        if match.group("escaped") is not None:
            return "$"
        name = match.group("named") or match.group("braced")
        if name is None:
            raise _Bad("format")
        value = environ.get(name)
        op = match.group("op")
        if op is not None and not defaults:
            raise _Bad("format", "version 1")
        if op is None:
            if value is None:
                missing.add(name)
                return ""
            return value
        arg = match.group("arg")
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return arg if unset else value
        if unset:
            raise _Bad("required", arg or f"{name} is not set")
        return value

    return _PATTERN.sub(replace, text)


def interpolate_section(section, kind: str, environ, filename: str, warn, defaults: bool = True):
    """Interpolate every entry of a top-level section (services, networks, volumes, ...).

    ``kind`` names the entries in errors ("service", "network", ...); ``defaults`` as in substitute().
    Returns a new Map.
    """
    if not isinstance(section, dict):
        return section
    missing = set()
    out = Map(line=getattr(section, "line", None), lines=dict(getattr(section, "lines", {})))
    for name, body in section.items():
        out[name] = _walk(body, environ, missing, (kind, name, filename, defaults), None, line_of(section, name))
    for var in sorted(missing):
        warn(f"The {var} variable is not set. Defaulting to a blank string.")
    return out


def _walk(value, environ, missing, where, key, line):
    if isinstance(value, str):
        if "$" not in value:
            return value
        try:
            return Interpolated(substitute(value, environ, missing, where[3]))
        except _Bad as bad:
            kind, name, filename, _ = where
            option = key if key is not None else name
            filename = f"{filename}:{line}" if line else filename
            if bad.kind == "format":
                hint = ('a version 1 file knows only $VAR, ${VAR} and $$; defaults and required values need '
                        'version 2 or later' if bad.detail else 'write "$$" for a literal "$"')
                raise ConfigError(
                    f'{filename}: invalid interpolation format for "{option}" option in {kind} '
                    f'"{name}": "{value}" ({hint})') from None
            raise ConfigError(
                f'{filename}: missing mandatory value for "{option}" option interpolating '
                f'{value} in {kind} "{name}": {bad.detail}') from None
    if isinstance(value, dict):
        out = Map(line=getattr(value, "line", None), lines=dict(getattr(value, "lines", {})))
        for k, v in value.items():
            out[k] = _walk(v, environ, missing, where, key if key is not None else k, line_of(value, k))
        return out
    if isinstance(value, list):
        return Seq((_walk(v, environ, missing, where, key, line_of(value, i)) for i, v in enumerate(value)),
                   line=getattr(value, "line", None), lines=list(getattr(value, "lines", [])))
    return value
