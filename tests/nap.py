"""The deploy commands as ``nap-compose`` runs them, on an Orchestrator a test built.

Each function writes the argv the command line would get (``nap.up(orc, project, scales={"web": 3},
timeout=5, force_recreate=True)`` is ``nap-compose up -d --force-recreate --scale web=3 --timeout 5``),
parses it with the CLI's own parser, builds the Options with the CLI's own builder
(``napcompose.cli.options.options_of``) and runs the command on the orchestrator, as the command's
handler does, without its project lock and its terminal output. So a test runs what the CLI would
run: there is no option here that the command line cannot spell.

A keyword flag is the command's long flag, spelled with underscores: ``True`` adds it, ``False`` or
``None`` leaves it out; a flag the command does not have is the parser's usage error.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

from napcompose.cli import build_parser
from napcompose.cli.options import options_of
from napcompose.model import Project, RunReport
from napcompose.planner import Command, Options, Plan


def argv(verb: Sequence[str], services: Sequence[str] = (), scales: Optional[Mapping[str, int]] = None,
         **flags) -> list:
    """``verb`` (the command and its fixed flags), then ``flags``, ``--scale`` pairs and services."""
    words = list(verb)
    for name, value in flags.items():
        if value is None or value is False:
            continue
        words.append("--" + name.replace("_", "-"))
        if value is not True:
            words.append(str(value))
    for service, count in (scales or {}).items():
        words += ["--scale", f"{service}={count}"]
    return words + list(services)


def options(words: Sequence[str], project: Project) -> Options:
    """The Options the CLI builds for ``words`` (a command line after ``nap-compose``) and ``project``."""
    return options_of(build_parser().parse_args(list(words)), project)


def up(orch, project: Project, services: Sequence[str] = (), scales: Optional[Mapping[str, int]] = None,
       timeout: Optional[int] = None, **flags) -> RunReport:
    """``up -d``: converge the project (the named services and what they depend on)."""
    words = argv(["up", "-d"], services, scales, timeout=timeout, **flags)
    return orch.run(project, options(words, project))


def preview(orch, project: Project, services: Sequence[str] = (),
            scales: Optional[Mapping[str, int]] = None, **flags) -> Plan:
    """``plan``: what ``up`` with the same flags would do; nothing is reserved or changed."""
    return orch.plan(project, options(argv(["plan"], services, scales, **flags), project))[0]


def scale(orch, project: Project, scales: Mapping[str, int], timeout: Optional[int] = None) -> RunReport:
    """``scale SERVICE=NUM...``: those services only, at those scales."""
    pairs = [f"{service}={count}" for service, count in scales.items()]
    return orch.run(project, options(argv(["scale"], pairs, timeout=timeout), project))


def down(orch, project: Union[Project, str], timeout: Optional[int] = None, **flags) -> RunReport:
    """``down``; a project given by name alone is taken down from what the hosts and the address book hold."""
    if isinstance(project, str):
        words = argv(["down"], timeout=timeout, **flags)
        return orch.run(None, options(words, Project(project, ())), Command.DOWN, name=project)
    return orch.run(project, options(argv(["down"], timeout=timeout, **flags), project), Command.DOWN)


def stop(orch, project: Project, services: Sequence[str] = (), timeout: Optional[int] = None) -> RunReport:
    return orch.run(project, options(argv(["stop"], services, timeout=timeout), project), Command.STOP)


def start(orch, project: Project, services: Sequence[str] = (), **flags) -> RunReport:
    return orch.run(project, options(argv(["start"], services, **flags), project), Command.START)


def restart(orch, project: Project, services: Sequence[str] = (), timeout: Optional[int] = None) -> RunReport:
    return orch.run(project, options(argv(["restart"], services, timeout=timeout), project), Command.RESTART)


def rm(orch, project: Project, services: Sequence[str] = (), **flags) -> RunReport:
    """``rm -f``: stopped containers (every one with ``stop=True``, ``-s``), without asking."""
    return orch.run(project, options(argv(["rm", "-f"], services, **flags), project), Command.RM)


def kill(orch, project: Project, services: Sequence[str] = (), signal: Optional[str] = None) -> RunReport:
    words = ["kill"] + (["-s", signal] if signal is not None else []) + list(services)
    return orch.run(project, options(words, project), Command.KILL)


def rollback(orch, project: Project, services: Sequence[str]) -> RunReport:
    """``rollback SERVICE...``: back to the containers the services' last update kept."""
    return orch.run(project, options(argv(["rollback"], services), project), Command.ROLLBACK)
