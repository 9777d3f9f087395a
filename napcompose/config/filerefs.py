"""``configs:`` and ``secrets:``: the top-level definitions and each service's use of them -> FileMount.

A definition names where the value comes from: ``file:`` (the operator's file, shipped to the hosts),
``environment:`` (an environment variable of the operator) or, for configs, ``content:`` (inline text).
``external: true`` names an object of a swarm's store, which a cluster of plain Docker hosts has not:
it is refused. A service uses a definition by name (short syntax) or with ``source``, ``target``,
``mode``, ``uid`` and ``gid`` (long syntax). Secrets land at ``/run/secrets/<name>`` (a relative
``target`` is taken under ``/run/secrets``), mode 0400; configs at ``/<name>``, mode 0444.

Whether a file exists, and whether an environment variable is set, is checked when the project is
shipped (``up``, ``plan``), not here: ``down`` of a project whose secret file is gone must still work.
No message here ever holds a value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from napcompose.config.merge import as_list
from napcompose.config.schema import suggest
from napcompose.config.yamlload import line_of
from napcompose.errors import ConfigError
from napcompose.model import FileMount

KINDS = ("configs", "secrets")
DEFAULT_MODE = {"config": 0o444, "secret": 0o400}
SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class Definition:
    """One top-level entry: where its value comes from, and where it is written (``file:line``)."""

    kind: str  # config | secret
    name: str
    origin: str
    file: Optional[str] = None
    env: Optional[str] = None
    data: Optional[bytes] = None


def origins_of(documents, sections=KINDS) -> Dict[Tuple[str, str], str]:
    """``{(section, name): "file:line"}`` of every definition; a later file's definition wins."""
    where: Dict[Tuple[str, str], str] = {}
    for doc in documents:
        for section in sections:
            body = doc.sections.get(section) or {}
            for name in body:
                line = line_of(body, name)
                where[(section, name)] = f"{doc.filename}:{line}" if line else doc.filename
    return where


def definitions(sections, origins, working_dir: str, environ) -> Dict[Tuple[str, str], Definition]:
    """Every top-level config and secret, by (section, name). Raises ConfigError naming file, line and entry."""
    out: Dict[Tuple[str, str], Definition] = {}
    for section in KINDS:
        kind = section[:-1]
        for name, body in sorted((sections.get(section) or {}).items()):
            origin = origins.get((section, name), "")
            body = body or {}

            def fail(message):
                raise ConfigError(f"{origin}: {kind} '{name}': {message}")

            if body.get("external"):
                fail("external configs and secrets live in a swarm's store, which a cluster of plain Docker "
                     "hosts does not have; use 'file:' (or 'environment:') instead")
            sources = [key for key in ("file", "environment", "content") if body.get(key) is not None]
            if kind == "secret" and "content" in sources:
                fail("'content:' is for configs only; give a secret with 'file:' or 'environment:'")
            if len(sources) != 1:
                fail("needs exactly one of 'file:', 'environment:'" + (", 'content:'" if kind == "config" else "")
                     + (f" (it has {', '.join(sources)})" if sources else ""))
            if "file" in sources:
                path = os.path.expanduser(str(body["file"]))
                out[(section, name)] = Definition(kind, name, origin,
                                                  file=os.path.normpath(os.path.join(working_dir, path)))
            elif "environment" in sources:
                var = str(body["environment"])
                value = environ.get(var)
                out[(section, name)] = Definition(kind, name, origin, env=var,
                                                  data=None if value is None else value.encode())
            else:
                out[(section, name)] = Definition(kind, name, origin, data=str(body["content"]).encode())
    return out


def _mode(ctx, key, value) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        ctx.fail(key, f"mode {value!r} is not a file mode (write it in octal, e.g. 0440)")
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            ctx.fail(key, f"mode {value!r} is not an octal file mode (e.g. 0440)")
    if not 0 <= value <= 0o777:
        ctx.fail(key, f"mode {value:#o} is not a file mode (0 to 0777)")
    return value


def _id(ctx, key, what, value) -> Optional[int]:
    if value is None:
        return None
    text = str(value)
    if isinstance(value, bool) or not text.isdigit():
        ctx.fail(key, f"{what} {text!r} must be a numeric id (names cannot be resolved on the hosts)")
    return int(text)


def service_mounts(ctx, raw, defined: Dict[Tuple[str, str], Definition]) -> Tuple[FileMount, ...]:
    """The service's configs then secrets as FileMounts. Raises ConfigError naming file, line, service, name."""
    out = []
    targets: Dict[str, str] = {}
    for section in KINDS:
        kind = section[:-1]
        for entry in as_list(raw.get(section)):
            long = entry if isinstance(entry, dict) else {"source": entry}
            name = str(long.get("source") or "")
            if not name:
                ctx.fail(section, f"{dict(long)!r} needs a source (the name of a top-level {kind})")
            definition = defined.get((section, name))
            if definition is None:
                names = {n for s, n in defined if s == section}
                ctx.fail(section, f"{kind} '{name}' is not defined under the top-level {section}"
                         f"{suggest(name, names)}")
            target = str(long.get("target") or name)
            if kind == "secret" and not target.startswith("/"):
                target = f"{SECRETS_DIR}/{target}"
            elif not target.startswith("/"):
                target = "/" + target
            target = os.path.normpath(target)
            if target in targets:
                ctx.fail(section, f"{kind} '{name}' and {targets[target]} both land at {target}")
            targets[target] = f"{kind} '{name}'"
            mode = DEFAULT_MODE[kind] if long.get("mode") is None else _mode(ctx, section, long["mode"])
            out.append(FileMount(kind=kind, name=name, target=target, mode=mode,
                                 uid=_id(ctx, section, "uid", long.get("uid")),
                                 gid=_id(ctx, section, "gid", long.get("gid")),
                                 file=definition.file, env=definition.env, data=definition.data,
                                 origin=definition.origin))
    return tuple(out)
