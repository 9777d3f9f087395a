"""``pause`` and ``unpause``: freeze and thaw the project's containers on every host, on the one road
(observe, plan Pause/Unpause actions, execute) under the project's lock, as ``stop`` and ``start``."""

from __future__ import annotations

from napcompose.cli.lifecycle import lifecycle_handler
from napcompose.cli.locking import add_wait_option
from napcompose.planner import Command


def register(sub) -> None:
    for command, text in ((Command.PAUSE, "pause the running containers of services, on every host"),
                          (Command.UNPAUSE, "unpause the paused containers of services")):
        p = sub.add_parser(command.value, help=text)
        add_wait_option(p)
        p.add_argument("services", nargs="*", metavar="SERVICE")
        p.set_defaults(func=lifecycle_handler(command))
