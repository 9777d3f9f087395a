"""Compose files -> a validated, frozen Project. Pure: no Docker, no network; files are read only here.

Pipeline: strict YAML load -> format detection -> interpolation -> schema check (refused keys say why,
support.py) -> include -> extends -> merge of the files -> normalised ServiceSpecs -> profiles (only the
enabled services go on) -> checks across services (names, references, cycles).
"""

from __future__ import annotations

from napcompose.config.files import load_project
from napcompose.config.profiles import Selection
from napcompose.config.project import parse_texts
from napcompose.config.render import render


def parse_project(texts, *, project_name, working_dir=".", environ=None, warn=None, read=None, profiles=None,
                  services=()):
    """Build a Project from in-memory files: ``texts`` = [(filename, content)], later ones override."""
    environ = dict(environ or {})
    return parse_texts(list(texts), project_name=project_name, working_dir=working_dir, environ=environ,
                       warn=warn or (lambda line: None), read=read,
                       selection=Selection.of(profiles, services, environ))


__all__ = ["load_project", "parse_project", "render"]
