"""Compose documents -> one validated Project: merge the files, normalise services, check references."""

from __future__ import annotations

import os
from dataclasses import replace

from napcompose.config import filerefs, networks, profiles, support, updates, volumes, xnap
from napcompose.config.checks import check_project
from napcompose.config.document import V1, parse_document
from napcompose.config.extends import ExtendsResolver
from napcompose.config.include import Includer
from napcompose.config.merge import merge_service, merge_top
from napcompose.config.normalize import ServiceContext, optional_dependencies, to_spec
from napcompose.config.yamlload import Map, line_of
from napcompose.errors import ConfigError, UsageError
from napcompose.model import Project


def project_name_of(documents, project_name, name_given):
    """-p (or COMPOSE_PROJECT_NAME) when given, else the last top-level ``name:``, else ``project_name``.

    An included file's ``name:`` names that file's own project, not this one, so it is not read here.
    """
    if not name_given:
        for doc in reversed(documents):
            if doc.name is not None and doc.included_by is None:
                return doc.name[0]
    if not project_name:
        raise UsageError("the project name has no letters or digits; pass -p NAME or set name: in the "
                         "compose file")
    return project_name


def build_project(documents, *, project_name, working_dir, environ, warn, load_other, name_given=False,
                  selection=None):
    """Merge parsed documents in order and return the Project of the services ``selection`` enables."""
    project_name = project_name_of(documents, project_name, name_given)
    formats = {d.format == V1 for d in documents}
    if len(formats) > 1:
        first = documents[0]
        other = next(d for d in documents if (d.format == V1) != (first.format == V1))
        raise ConfigError(f"{other.filename}: a version 1 file cannot be merged with a version 2/3 or spec "
                          f"file ({first.filename} is {'version 1' if first.format == V1 else 'not version 1'})")
    services, origins, sections = {}, {}, {}
    top_nap, nap_file = Map(), documents[-1].filename
    extends = ExtendsResolver(load_other)
    for doc in documents:
        for name, body in extends.services(doc).items():
            services[name] = merge_service(services[name], body) if name in services else dict(body)
            origins.setdefault(name, []).append((doc.filename, doc.services[name],
                                                 doc.services.lines.get(name)))
        for key, section in doc.sections.items():
            sections[key] = merge_top(sections.get(key), section, key)
        if doc.x_nap is not None:
            if not isinstance(doc.x_nap, dict):
                xnap.top_level(doc.x_nap, doc.filename)
            top_nap.update(doc.x_nap)
            top_nap.lines.update(getattr(doc.x_nap, "lines", {}))
            nap_file = doc.filename
    if not services:
        names = ", ".join(d.filename for d in documents)
        raise ConfigError(f"{names}: no services defined")
    strategy, seed = xnap.top_level(top_nap, nap_file)
    definition_origins = filerefs.origins_of(documents, sections=("networks", "volumes") + filerefs.KINDS)
    support.check_definitions(sections, definition_origins, warn)
    defined = filerefs.definitions(sections, definition_origins, working_dir, environ)
    update_defaults = updates.defaults(top_nap, nap_file)
    specs, optional = [], {}
    for name in sorted(services):
        raw = services[name]
        ctx = ServiceContext(name, _Origins(origins[name]), working_dir, environ, warn)
        if raw.get("image") is None and raw.get("build") is None:
            ctx.fail("image", "neither 'image' nor 'build' is set; one of them is needed")
        update, rollback = updates.service_updates(ctx, raw, update_defaults)
        optional[name] = optional_dependencies(ctx, raw)
        specs.append(replace(to_spec(ctx, raw), file_mounts=filerefs.service_mounts(ctx, raw, defined),
                             update=update, rollback=rollback, profiles=profiles.check_names(ctx, raw)))
    all_origins = {n: _Origins(o) for n, o in origins.items()}
    # Every service is validated; only the enabled ones reach the rest of the product.
    enabled = profiles.select(specs, selection or profiles.Selection(), all_origins, optional, warn)
    project = Project(name=project_name, services=enabled,
                      source_files=tuple(d.filename for d in documents), working_dir=working_dir,
                      strategy=strategy, seed=seed, profiles=tuple(sorted({p for s in specs for p in s.profiles})),
                      disabled_services=tuple(sorted(set(services) - {s.name for s in enabled})))
    check_project(project, sections, all_origins, is_v1=documents[0].format == V1)
    shared = networks.definitions(sections.get("networks"), definition_origins, networks.users_of(specs))
    project = networks.with_shared_names(project, shared)
    return volumes.with_docker_names(project, volumes.definitions(project_name, sections.get("volumes"),
                                                                  definition_origins))


class _Origins:
    """The files that define a service, latest last; answers 'which file and line set this key'."""

    def __init__(self, entries):
        self.entries = entries

    def where(self, key=None):
        """``file:line`` of ``key`` (a dotted path such as ``networks.lan.ipv4_address``), else of the service."""
        parts = key.split(".") if key else []
        if parts:
            for filename, raw, _ in reversed(self.entries):
                line, node = None, raw
                for part in parts:
                    if not isinstance(node, dict) or part not in node:
                        break
                    line, node = line_of(node, part) or line, node[part]
                if line:
                    return f"{filename}:{line}"
        filename, raw, name_line = self.entries[-1]
        line = name_line or raw.line
        return f"{filename}:{line}" if line else filename


def parse_texts(texts, *, project_name, working_dir, environ, warn, read=None, cwd=None, name_given=False,
                selection=None):
    """[(filename, text)] -> Project. ``read(path)`` supplies files named by ``extends.file`` and ``include``.

    ``project_name`` is the name unless a file sets ``name:`` and ``name_given`` is false (the caller's
    name came from the directory, not from -p or COMPOSE_PROJECT_NAME). ``selection`` (a
    profiles.Selection) says which services with profiles are enabled; by default none of them.

    File names are relative to ``cwd`` (default: ``working_dir``); an ``extends.file`` naming one of
    ``texts`` (under any spelling of its path) reads that document, not a second copy of it.
    """
    base = cwd or working_dir
    cache = {}

    def identity(name):
        return os.path.normpath(os.path.join(base, name))

    def load_other(path, relative_to):
        full = os.path.normpath(os.path.join(os.path.dirname(relative_to) or working_dir, path))
        key = identity(full)
        if key not in cache:
            if read is None:
                raise ConfigError(f"{relative_to}: extends names the file {path}, which cannot be read here")
            cache[key] = parse_document(full, read(full), environ, warn)
            cache[key].path = key
        return cache[key]

    def parse_included(display, env):
        if read is None:
            raise ConfigError(f"{display}: an included file cannot be read here")
        doc = parse_document(display, read(display), env, warn)
        doc.path = identity(display)
        return doc

    def display_of(path):
        rel = os.path.relpath(path, base)
        return path if rel.startswith("..") else rel

    documents = [parse_document(name, text, environ, warn) for name, text in texts]
    for doc in documents:
        doc.path = identity(doc.filename)
        cache.setdefault(doc.path, doc)
    documents = Includer(parse_included, identity, display_of, environ).expand(documents)
    return build_project(documents, project_name=project_name, working_dir=working_dir, environ=environ,
                         warn=warn, load_other=load_other, name_given=name_given, selection=selection)
