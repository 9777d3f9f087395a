"""Finding the compose files, the project directory, the project name and the environment on disk."""

from __future__ import annotations

import os

from napcompose.config.envfile import read_env_file
from napcompose.config.names import normalize_project_name
from napcompose.config.profiles import Selection
from napcompose.config.project import parse_texts
from napcompose.config.yamlload import read_file
from napcompose.errors import ConfigError, UsageError

# The names ``docker compose`` v2 looks for, in its order of preference.
BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_NAMES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
NAP_NAMES = ("nap-compose.yml", "nap-compose.yaml")


def default_files(start_dir, warn=None):
    """The default files of the first directory, from ``start_dir`` upward, holding one.

    The first present of BASE_NAMES, then the first present of OVERRIDE_NAMES, then nap-compose.yml:
    the last one holds nap-compose's own settings beside an unchanged compose file, or stands alone.
    When several names of one group are present the first is used and a warning names them all,
    as ``docker compose`` does: the others are never read, which surprises whoever edits them.
    """
    warn = warn or (lambda line: None)
    directory = os.path.abspath(start_dir)
    while True:
        found = []
        for group in (BASE_NAMES, OVERRIDE_NAMES, NAP_NAMES):
            present = [n for n in group if os.path.isfile(os.path.join(directory, n))]
            if len(present) > 1:
                warn(f"found several compose files in {directory}: {', '.join(present)}; "
                     f"using {present[0]}")
            found.extend(os.path.join(directory, n) for n in present[:1])
        if any(os.path.basename(f) in BASE_NAMES + NAP_NAMES for f in found):
            return found
        parent = os.path.dirname(directory)
        if parent == directory:
            raise ConfigError(
                f"no compose file found in {os.path.abspath(start_dir)} or its parents (looked for "
                f"{', '.join(BASE_NAMES + NAP_NAMES)}); pass -f FILE")
        directory = parent


def resolve_files(files, environ, cwd, warn=None):
    if files:
        return [os.path.join(cwd, f) for f in files]
    listed = environ.get("COMPOSE_FILE")
    if listed:
        sep = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [os.path.join(cwd, f) for f in listed.split(sep) if f]
    return default_files(cwd, warn)


def load_project(files=None, project_name=None, project_dir=None, env_file=None, environ=None, cwd=None,
                 warn=None, profiles=None, services=()):
    """Read the compose files from disk and return the validated Project.

    ``profiles`` are the active profiles (default: COMPOSE_PROFILES); ``services`` the services the
    command names, which activate their own profiles. The Project holds the enabled services only.

    Raises ConfigError (exit 3) for bad files, UsageError (exit 2) for a bad project name.
    """
    cwd = cwd or os.getcwd()
    environ = dict(os.environ if environ is None else environ)
    warn = warn or (lambda line: None)
    paths = resolve_files(files, environ, cwd, warn)
    for path in paths:
        if not os.path.isfile(path):
            raise ConfigError(f"compose file {os.path.relpath(path, cwd)} not found")
    working_dir = os.path.abspath(os.path.join(cwd, project_dir) if project_dir else os.path.dirname(paths[0]))
    dotenv_path = os.path.join(cwd, env_file) if env_file else os.path.join(working_dir, ".env")
    dotenv = read_env_file(dotenv_path, display=env_file or dotenv_path, required=bool(env_file))
    # The process environment wins over the .env file.
    merged_env = {k: v for k, v in dotenv.items() if v is not None}
    merged_env.update(environ)
    # -p, then COMPOSE_PROJECT_NAME, then a top-level name: in the files, then the directory's name.
    given = project_name or merged_env.get("COMPOSE_PROJECT_NAME")
    name = normalize_project_name(given or os.path.basename(working_dir))
    if given and not name:
        raise UsageError(f"project name {given!r} has no letters or digits; pass -p NAME")
    display = [_display(p, cwd) for p in paths]
    texts = [(d, read_file(p, d)) for d, p in zip(display, paths)]

    def read(path):
        return read_file(os.path.join(cwd, path), path)

    project = parse_texts(texts, project_name=name, working_dir=working_dir, environ=merged_env, warn=warn,
                          read=read, cwd=cwd, name_given=bool(given),
                          selection=Selection.of(profiles, services, merged_env))
    _check_build_contexts(project)
    return project


def _check_build_contexts(project):
    for spec in project.services:
        context = spec.build.context if spec.build else None
        if context and "://" not in context and not context.startswith("git@") and not os.path.isdir(context):
            raise ConfigError(f"service '{spec.name}': build: the context {context} is not a directory")


def _display(path, cwd):
    rel = os.path.relpath(path, cwd)
    return rel if not rel.startswith("..") else path
