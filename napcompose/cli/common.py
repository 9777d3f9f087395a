"""Helpers shared by command handlers: finding and loading the cluster and compose files, naming services."""

from __future__ import annotations

import os
from typing import Sequence

from napcompose.errors import ConfigError, UsageError


def cluster_path(ctx) -> str:
    """The cluster file: --cluster, then $NAP_CLUSTER, then ./nap-cluster.yml."""
    return cluster_file_of(ctx.args.cluster, ctx.environ, ctx.cwd)


def cluster_file_of(option, environ, cwd) -> str:
    """The cluster file that ``--cluster`` (``option``, None when absent), the environment and the
    working directory name."""
    return os.path.join(cwd, option or environ.get("NAP_CLUSTER") or "nap-cluster.yml")


def load_cluster(ctx):
    from napcompose.cluster import load_cluster_file

    path = cluster_path(ctx)
    if not os.path.exists(path):
        raise ConfigError(
            f"cluster file {path} not found: pass --cluster FILE or set NAP_CLUSTER "
            "(`nap-compose lab up` writes one for a local lab)")
    return load_cluster_file(path)


def named_services(args):
    """The services the command line names; they enable their own profiles."""
    names = vars(args).get("services")
    names = list(names) if isinstance(names, (list, tuple)) else []  # `config --services` is a flag
    if isinstance(vars(args).get("service"), str):
        names.append(args.service)
    return names


def load_project(ctx):
    from napcompose.config import load_project as _load

    args = ctx.args
    return _load(files=args.files, project_name=args.project_name,
                 project_dir=args.project_directory, env_file=args.env_file,
                 environ=ctx.environ, cwd=ctx.cwd, warn=lambda m: ctx.err(f"WARNING: {m}"),
                 profiles=vars(args).get("profiles"), services=named_services(args))


def check_services(project, names: Sequence[str]) -> tuple:
    """The named services, in the order given; an unknown one is a usage error."""
    known = project.service_names
    for name in names:
        if name not in known:
            raise UsageError(f"no such service: {name} (services in {project.name}: {', '.join(known)})")
    return tuple(dict.fromkeys(names))
