"""``up --keep`` / ``up --no-keep``: a project opts in to (or out of) the reconciler (``nap-compose watch``).

``--keep`` records in the store the compose files as this ``up`` read them (their text), the
variables of the environment they use, the project's directory, profiles, named services and
``--scale``: the reconciler loads the same project from that record, without this machine's disk.
``down`` opts the project out: a project taken down is not brought back.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from napcompose.reconcile.records import KeepRecord

# The store's records (napcompose.reconcile) are imported by the functions that read or write them:
# registering ``--keep`` (as ``ps`` registers its neighbours' options) does not load them.


def add_keep_options(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--keep", action="store_true", default=None,
                       help="keep the project as declared with nobody at the keyboard: `nap-compose watch` "
                            "replaces lost or dead replicas (the files as read now are recorded in the store)")
    group.add_argument("--no-keep", dest="keep", action="store_false",
                       help="stop keeping the project (the reconciler leaves it alone)")


def keep_record(ctx, project, options, now: float) -> KeepRecord:
    """The record of ``project`` as this command loaded it from ``ctx``'s files and environment."""
    import getpass
    import socket

    from napcompose.config.envfile import read_env_file
    from napcompose.config.files import resolve_files
    from napcompose.config.yamlload import read_file
    from napcompose.reconcile.records import KeepRecord, used_variables

    args = ctx.args
    environ = dict(ctx.environ)
    paths = resolve_files(args.files, environ, ctx.cwd)
    working_dir = project.working_dir if os.path.isabs(project.working_dir) else os.path.abspath(
        os.path.join(ctx.cwd, project.working_dir))
    texts = tuple((os.path.relpath(p, working_dir), read_file(p, p)) for p in paths)
    env_path = os.path.join(ctx.cwd, args.env_file) if args.env_file else os.path.join(working_dir, ".env")
    dotenv = {k: v for k, v in read_env_file(env_path, display=env_path, required=False).items() if v is not None}
    dotenv.update(environ)  # the process environment wins over the .env file, as at load
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return KeepRecord(project.name, working_dir, texts, used_variables(texts, dotenv),
                      tuple(vars(args).get("profiles") or ()), tuple(options.services), tuple(options.scales),
                      f"{user}@{socket.gethostname()}", now)


def apply_keep(ctx, project, options, store, cluster) -> None:
    """Record or drop the keep record as ``up --keep``/``--no-keep`` asked; nothing without either."""
    keep = vars(ctx.args).get("keep")
    if keep is None:
        return
    from napcompose.reconcile.records import KeptProjects

    kept = KeptProjects(store, cluster.store.prefix)
    if keep:
        kept.keep(keep_record(ctx, project, options, ctx.wiring.clock().now()))
        ctx.err(f"Keeping project {project.name}: `nap-compose watch` replaces its lost or dead replicas")
    elif kept.drop(project.name):
        ctx.err(f"No longer keeping project {project.name}")


def follow_scale(ctx, project_name: str, options, store, cluster) -> None:
    """``scale`` of a kept project: the record takes the new counts, or the reconciler would undo them."""
    from dataclasses import replace

    from napcompose.reconcile.records import KeptProjects

    kept = KeptProjects(store, cluster.store.prefix)
    record = kept.get(project_name)
    if record is None:
        return
    scales = dict(record.scales)
    scales.update(dict(options.scales))
    kept.keep(replace(record, scales=tuple(sorted(scales.items()))))


def drop_keep(ctx, project_name: str, store, cluster) -> None:
    """``down``: a project taken down is no longer kept."""
    from napcompose.reconcile.records import KeptProjects

    if KeptProjects(store, cluster.store.prefix).drop(project_name):
        ctx.err(f"No longer keeping project {project_name}")


def print_log(ctx, project_name: str) -> None:
    """``ps --log``: whether the project is kept, and the reconciler's log of it, oldest first."""
    from napcompose.cli.session import session_of
    from napcompose.reconcile.records import KeptProjects, ReconcileLog

    session = session_of(ctx)
    prefix = session.cluster.store.prefix
    record = KeptProjects(session.store, prefix).get(project_name)
    entries = ReconcileLog(session.store, prefix).read(project_name)
    ctx.out("")
    ctx.out(f"Kept by the reconciler since {_clock(record.since)} (up --keep by {record.by})" if record else
            "Not kept by the reconciler (up --keep opts in)")
    if not entries:
        ctx.out("The reconciler has done nothing to this project")
        return
    ctx.out("TIME       WHAT                 SUBJECT     WHY")
    for e in entries:
        ctx.out(f"{_clock(e.time):<10} {e.kind:<20} {e.subject:<11} {e.why}" + (f" [{e.by}]" if e.by else ""))


def _clock(seconds: float) -> str:
    rest = int(seconds) % 86400
    return f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
