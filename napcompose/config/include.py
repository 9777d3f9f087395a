"""``include:``: other compose files whose services and resources join the project.

An included file is a project of its own: its relative paths are read against its own directory
(its ``project_directory``), its variables come from its ``env_file`` (default: the ``.env`` beside it)
under the caller's environment. Its definitions are added, not merged: a service defined both by a file
and by a file it includes is an error naming both, because silently letting one win hides the other.
"""

from __future__ import annotations

import os

from napcompose.config.document import V1
from napcompose.config.envfile import read_env_file
from napcompose.config.filerefs import KINDS
from napcompose.config.yamlload import Map, line_of
from napcompose.errors import ConfigError


class Includer:
    """Expands the ``include:`` entries of documents into the list of documents to merge.

    ``parse(display, environ)`` reads and parses one file named as messages show it; ``locate(display)``
    gives its absolute path; ``display_of(path)`` the reverse.
    """

    def __init__(self, parse, locate, display_of, environ):
        self.parse, self.locate, self.display_of, self.environ = parse, locate, display_of, environ

    def expand(self, documents):
        """``documents`` with, before each one, the documents it includes (recursively)."""
        out = []
        for doc in documents:
            out.extend(self._with_includes(doc, (self.locate(doc.filename),)))
        return out

    def _with_includes(self, doc, chain):
        if not doc.includes:
            return [doc]
        included = []
        here = os.path.dirname(self.locate(doc.filename))
        for paths, env_files, project_dir, where in doc.includes:
            full = [os.path.normpath(os.path.join(here, os.path.expanduser(p))) for p in paths]
            base = os.path.normpath(os.path.join(here, project_dir)) if project_dir else os.path.dirname(full[0])
            environ = self._environment(env_files, here, base, where)
            for path in full:
                if path in chain:
                    names = " -> ".join(self.display_of(p) for p in chain + (path,))
                    raise ConfigError(f"{where}: include: circular include: {names}")
                if not os.path.isfile(path):
                    raise ConfigError(f"{where}: include: {self.display_of(path)} not found")
                other = self.parse(self.display_of(path), environ)
                if other.format == V1:
                    raise ConfigError(f"{where}: include: {other.filename} is a version 1 file; an included "
                                      "file needs a 'services:' section")
                _rebase(other, base)
                other.included_by = where
                included.extend(self._with_includes(other, chain + (path,)))
        _check_conflicts(included + [doc])
        return included + [doc]

    def _environment(self, env_files, here, base, where):
        """The included project's variables: its env files, under the caller's environment."""
        values = {}
        if env_files:
            for name in env_files:
                path = os.path.normpath(os.path.join(here, name))
                if not os.path.isfile(path):
                    raise ConfigError(f"{where}: include: env_file {name} not found (looked for {path})")
                values.update(read_env_file(path, display=self.display_of(path)))
        else:
            values.update(read_env_file(os.path.join(base, ".env"), required=False))
        merged = {k: v for k, v in values.items() if v is not None}
        merged.update(self.environ)
        return merged


def _check_conflicts(documents):
    """A service, or a different definition of a network/volume/config/secret, in two documents: refused."""
    seen = {}
    for doc in documents:
        for name in doc.services:
            if name in seen:
                first = seen[name]
                raise ConfigError(
                    f"{doc.filename}:{line_of(doc.services, name)}: service '{name}' is defined both in "
                    f"{first.filename} and in {doc.filename}; an included file's services cannot be "
                    "redefined (rename one, or use extends)")
            seen[name] = doc
    for section in ("networks", "volumes") + tuple(KINDS):
        defined = {}
        for doc in documents:
            for name, body in (doc.sections.get(section) or {}).items():
                if name in defined and defined[name][1] != body:
                    raise ConfigError(
                        f"{doc.filename}:{line_of(doc.sections[section], name)}: {section}: '{name}' is "
                        f"defined differently in {defined[name][0].filename} and in {doc.filename}")
                defined[name] = (doc, body)


def _rebase(doc, base):
    """Make the relative paths of an included document absolute against its project directory."""

    def at(path):
        text = str(path)
        if "://" in text or text.startswith(("git@", "~")) or os.path.isabs(text):
            return path
        return os.path.normpath(os.path.join(base, text))

    for body in doc.services.values():
        build = body.get("build")
        if isinstance(build, str):
            body["build"] = at(build)
        elif isinstance(build, dict):
            build["context"] = at(build.get("context", "."))
        env_file = body.get("env_file")
        if env_file is not None:
            entries = env_file if isinstance(env_file, list) else [env_file]
            body["env_file"] = [dict(e, path=at(e["path"])) if isinstance(e, dict) else at(e) for e in entries]
        label_file = body.get("label_file")
        if label_file is not None:
            body["label_file"] = [at(e) for e in (label_file if isinstance(label_file, list) else [label_file])]
        if isinstance(body.get("volumes"), list):
            body["volumes"] = [_rebase_volume(v, at) for v in body["volumes"]]
    for section in KINDS:
        for entry in (doc.sections.get(section) or {}).values():
            if isinstance(entry, dict) and entry.get("file") is not None:
                entry["file"] = at(entry["file"])


def _rebase_volume(entry, at):
    if isinstance(entry, dict):
        if entry.get("type") == "bind" and entry.get("source"):
            return Map(entry, source=at(entry["source"]), line=getattr(entry, "line", None),
                       lines=dict(getattr(entry, "lines", {})))
        return entry
    source, sep, rest = str(entry).partition(":")
    if sep and source.startswith("."):
        return f"{at(source)}:{rest}"
    return entry
