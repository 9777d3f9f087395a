"""The one way a command line becomes Options: every deploy command builds its Options here.

``options_of(args, project)`` reads the flags the command's parser defined (a flag the command
does not have keeps the Options default) and checks them against the compose file before anything
is touched, so a malformed command changes nothing. The checks run in the order the user reads the
command: services, scales, signal, then the recreate flags and ``-t``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Dict, Optional, Sequence

from napcompose.errors import UsageError
from napcompose.planner import Options
from napcompose.cli.common import check_services
from napcompose.cli.compose_wait import wait_timeout

_SCALE = re.compile(r"^([^=]+)=(.*)$")
_SIGNAL = re.compile(r"(SIG)?[A-Z0-9+-]+|[0-9]+")


def parse_scales(items: Sequence[str], project) -> Dict[str, int]:
    """``SERVICE=NUM`` arguments as a dict; every malformed one is a usage error naming it."""
    scales: Dict[str, int] = {}
    for item in items:
        match = _SCALE.match(item)
        if not match or not match.group(1):
            raise UsageError(f"invalid scale argument '{item}': expected SERVICE=NUM, e.g. web=3")
        service, number = match.group(1), match.group(2)
        if not re.fullmatch(r"[0-9]+", number):
            raise UsageError(f"invalid number of replicas for {service}: '{number}' "
                             "(expected a whole number, 0 or more)")
        check_services(project, [service])
        scales[service] = int(number)
    return scales


def whole_seconds(value) -> int:
    """A whole number given on the command line (``-t``, ``logs --tail``)."""
    if not re.fullmatch(r"[0-9]+", value or ""):
        raise UsageError(f"invalid timeout '{value}': expected a whole number of seconds")
    return int(value)


def stop_timeout(args) -> Optional[int]:
    """``-t N`` as seconds; None when not given (each container's own stop_grace_period, else 10 s)."""
    timeout = vars(args).get("timeout")
    return None if timeout is None else whole_seconds(timeout)


def options_of(args, project, **derived) -> Options:
    """The one Options object of a deploy command, from its parsed arguments.

    ``scale SERVICE=NUM...`` (its ``pairs``) names the services it scales, and leaves their
    dependencies as they run; every other command scales with ``--scale``. ``derived``: what the
    command decides itself rather than reads (``pull`` and ``push`` choose their services by the
    images they use, and never their dependencies)."""
    given = vars(args)
    waiting = wait_timeout(args)  # first: ``--wait 120`` (the old lock wait) would read 120 as a service
    services = check_services(project, given.get("services") or ())
    if "pairs" in given:
        scales = parse_scales(given["pairs"], project)
        services, no_deps = tuple(sorted(scales)), True
    else:
        scales = parse_scales(given.get("scale") or (), project)
        no_deps = given.get("no_deps", False)
    signal = given.get("signal", "SIGKILL")
    if "signal" in given and not _SIGNAL.fullmatch(signal or ""):
        raise UsageError(f"invalid signal '{signal}': expected a name such as SIGKILL or a number")
    force, keep = given.get("force_recreate", False), given.get("no_recreate", False)
    if force and keep:
        raise UsageError("--force-recreate and --no-recreate cannot be combined")
    options = Options(force_recreate=force, no_recreate=keep, remove_orphans=given.get("remove_orphans", False),
                      services=services, no_deps=no_deps, build=given.get("build", False),
                      timeout=stop_timeout(args), scales=tuple(sorted(scales.items())),
                      # a rolling update gates each new replica on its running: --no-start runs none
                      rolling=not given.get("no_rolling", False) and not given.get("no_start", False),
                      prune_previous=given.get("prune_previous", False),
                      stop_first=given.get("stop", False), signal=signal,
                      wait=bool(given.get("wait", False)), wait_timeout=waiting, pull=given.get("pull"),
                      no_cache=given.get("no_cache", False), image_strategy=given.get("strategy", "copy"),
                      push=given.get("push", False), volumes=bool(given.get("volumes", False)),
                      start=not given.get("no_start", False))
    return replace(options, **derived)


def attached_stop(up: Options) -> Options:
    """The stop that ends an attached ``up`` at Ctrl-C: the same services, with its ``-t``."""
    return Options(services=up.services, timeout=up.timeout)


def attached_kill(up: Options) -> Options:
    """The kill a second Ctrl-C turns that stop into: the same services, SIGKILL."""
    return Options(services=up.services)
