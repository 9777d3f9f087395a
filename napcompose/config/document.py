"""One compose file: its format, interpolated sections, schema check, v1 translation."""

from __future__ import annotations

import re

from napcompose.config import schema
from napcompose.config.interpolate import interpolate_section
from napcompose.config.names import normalize_project_name, shown
from napcompose.config.yamlload import Map, line_of, load_text
from napcompose.errors import ConfigError

V1, SPEC = "1", "spec"
TOP_KEYS = ("version", "name", "include", "services", "networks", "volumes", "secrets", "configs")
_VERSION = re.compile(r"^[1-3]+(\.\d+)?$")


class Document:
    """A parsed file: ``services`` (name -> raw Map), top-level sections, ``x_nap``, its format.

    ``filename`` is the name shown in messages; ``path`` tells two names of one file apart from two files
    (the caller sets it to the normalised absolute path when it knows one).
    """

    def __init__(self, filename, fmt, services, sections, x_nap, name=None, includes=()):
        self.filename, self.format, self.services = filename, fmt, services
        self.sections, self.x_nap = sections, x_nap
        self.path = filename
        self.name = name  # (project name, "file:line") from a top-level ``name:``, else None
        self.includes = includes  # the ``include:`` entries, checked: (path list, env_files, dir, where)
        self.included_by = None  # "file:line" of the include: entry that brought this file in


def detect_format(doc, filename, warn):
    version = doc.get("version")
    if version is None or version == "":
        if any(doc.get(k) for k in ("services", "networks", "volumes", "include")):
            return SPEC
        if isinstance(doc.get("name"), str):  # a project name: a v1 service would be a mapping
            return SPEC
        return V1
    if isinstance(version, dict):
        warn(f"{filename}: 'version' is a mapping; reading it as a service of a version 1 file")
        return V1
    where = f"{filename}:{line_of(doc, 'version')}"
    if not isinstance(version, str):
        raise ConfigError(f"{where}: version {version!r} must be a string: write version: \"{version}\"")
    if not _VERSION.match(version):
        raise ConfigError(f"{where}: version {version!r} is not a compose file version (2.0-2.4, 3.0-3.9)")
    if version.startswith("1"):
        raise ConfigError(f"{where}: version {version!r}: a version 1 file has no 'version' key; "
                          "write the services at the top level, or use version 2 or later")
    return SPEC


def parse_document(filename, text, environ, warn):
    """Load, interpolate and check one file (extends are resolved later, across documents)."""
    doc = load_text(text, filename)
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else f"a {type(doc).__name__.replace('Seq', 'list')}"
        raise ConfigError(f"{filename}: the top level must be a mapping, but the file is {kind}")
    fmt = detect_format(doc, filename, warn)
    if fmt == V1:
        services = {k: v for k, v in doc.items() if not (isinstance(k, str) and k.startswith("x-"))}
        services = interpolate_section(Map(services, line=doc.line, lines=doc.lines), "service", environ,
                                       filename, warn, defaults=False)
        sections = {}
    else:
        for key in doc:
            if key in schema.TOP_REFUSED:
                raise ConfigError(f"{filename}:{line_of(doc, key)}: top level: {key}: not supported by "
                                  f"nap-compose: {schema.TOP_REFUSED[key]}")
            if not (isinstance(key, str) and key.startswith("x-")) and key not in TOP_KEYS:
                raise ConfigError(f"{filename}:{line_of(doc, key)}: top level: {key}: unknown key"
                                  f"{schema.suggest(key, TOP_KEYS)}")
        services = doc.get("services") or Map()
        if not isinstance(services, dict):
            raise ConfigError(f"{filename}:{line_of(doc, 'services')}: services must be a mapping")
        services = interpolate_section(services, "service", environ, filename, warn)
        sections = {}
        for key, spec in schema.TOP_SECTIONS.items():
            section = doc.get(key) or Map()
            if not isinstance(section, dict):
                raise ConfigError(f"{filename}:{line_of(doc, key)}: {key} must be a mapping")
            section = interpolate_section(section, key[:-1], environ, filename, warn)
            for name, body in section.items():
                schema.Checker(filename, key[:-1], name).check(spec, body, "", line_of(section, name))
            sections[key] = section
    service_schema = schema.V1_SERVICE if fmt == V1 else schema.SPEC_SERVICE
    for name, body in services.items():
        line = line_of(services, name)
        if not isinstance(name, str) or not schema.NAME_PATTERN.match(name):
            raise ConfigError(f"{filename}:{line}: service name {shown(name)} is not valid "
                              "(use letters, digits, '-', '_' and '.')")
        if not isinstance(body, dict):
            raise ConfigError(f"{filename}:{line}: service '{name}' must be a mapping, not "
                              f"{schema.describe(body)}")
        schema.Checker(filename, "service", name).check(service_schema, body, "", line)
    if fmt == V1:
        services = Map({n: _from_v1(b) for n, b in services.items()}, line=services.line, lines=services.lines)
    name = includes = None
    if fmt != V1:
        name = _project_name(doc, filename, environ, warn)
        includes = _includes(doc, filename, environ, warn)
    return Document(filename, fmt, services, sections, doc.get("x-nap"), name=name, includes=includes or ())


def _project_name(doc, filename, environ, warn):
    """The top-level ``name:``, interpolated and normalised as ``-p`` is; None when absent."""
    if "name" not in doc:
        return None
    where = f"{filename}:{line_of(doc, 'name')}"
    raw = interpolate_section(Map({"name": doc["name"]}), "top level", environ, filename, warn)["name"]
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: top level: name: must be a string, not {schema.describe(raw)}")
    name = normalize_project_name(raw)
    if not name:
        raise ConfigError(f"{where}: top level: name: {raw!r} has no letters or digits, so it cannot name "
                          "a project (container names start with it)")
    return name, where


def _includes(doc, filename, environ, warn):
    """The ``include:`` entries as (paths, env_files, project_directory or None, "file:line")."""
    if "include" not in doc or doc["include"] is None:
        return ()
    section = interpolate_section(Map({"include": doc["include"]}), "top level", environ, filename, warn)
    entries = section["include"]
    line = line_of(doc, "include")
    schema.Checker(filename, None, None).check(schema.INCLUDE, entries, "include", line)
    out = []
    for index, entry in enumerate(entries):
        where = f"{filename}:{line_of(entries, index) or line}"
        if isinstance(entry, str):
            entry = {"path": entry}
        paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
        env_files = entry.get("env_file")
        env_files = [] if env_files is None else env_files if isinstance(env_files, list) else [env_files]
        out.append((tuple(paths), tuple(env_files), entry.get("project_directory"), where))
    return tuple(out)


def _from_v1(body):
    """Rename v1-only keys to their later spelling so one normaliser serves every format."""
    out = Map(body, line=body.line, lines=dict(body.lines))
    if "net" in out:
        out["network_mode"] = out.pop("net")
        out.lines["network_mode"] = body.lines.get("net")
    if "log_driver" in out or "log_opt" in out:
        out["logging"] = {"driver": out.pop("log_driver", None), "options": out.pop("log_opt", None) or {}}
        out.lines["logging"] = body.lines.get("log_driver") or body.lines.get("log_opt")
    if "dockerfile" in out:
        build = out.get("build")
        out["build"] = {"context": build or ".", "dockerfile": out.pop("dockerfile")}
    return out
