"""``up --wait``, ``start --wait`` and ``--wait-timeout``, with docker compose's meaning.

``--wait`` returns once every started service runs, and is healthy where it has a healthcheck (a
one-shot job its dependents need completed counts once it exited 0); ``up --wait`` implies ``-d``.
``--wait`` takes no value: ``up --wait web`` waits for ``web``. The lock wait it used to be is
``--lock-wait[=SECONDS]``, and a value given the old way is answered with both new spellings.
"""

from __future__ import annotations

import re
from typing import Optional

from napcompose.errors import UsageError

# How argparse words a value given to a flag that takes none; the parser says ``value_given`` instead.
VALUE_REFUSED = "argument --wait: ignored explicit argument"


def value_given(command: str, value: str) -> str:
    """The answer to ``COMMAND --wait=VALUE`` (the lock wait's old spelling)."""
    return (f"--wait takes no value: on {command} it waits until the services run (and are healthy), as "
            f"docker compose's --wait does. To wait for the project's lock write --lock-wait={value}; to bound "
            f"the wait, --wait --wait-timeout {value}")


def add_compose_wait_options(parser, command: str) -> None:
    """``--wait`` and ``--wait-timeout SECONDS`` on ``command``'s parser."""
    parser.add_argument("--wait", action="store_true",
                        help="return once the services run, and are healthy where they have a healthcheck"
                             + (" (implies -d)" if command == "up" else ""))
    parser.add_argument("--wait-timeout", metavar="SECONDS", default=None,
                        help="with --wait: fail when the services are not there within SECONDS")
    parser.error_hints = ((VALUE_REFUSED, lambda message: value_given(command, _refused_value(message))),)


def _refused_value(message: str) -> str:
    found = re.search(r"ignored explicit argument '([^']*)'", message)
    return found.group(1) if found else "SECONDS"


def wait_timeout(args) -> Optional[float]:
    """``--wait-timeout`` in seconds (None: as long as it takes, as docker compose's default).

    Checked before anything is touched: a number, and only with ``--wait``. A first service named by
    digits alone after ``--wait`` is the lock wait's old spelling ``--wait SECONDS``: said so."""
    given = vars(args)
    if not given.get("wait"):
        if given.get("wait_timeout") is not None:
            raise UsageError("--wait-timeout needs --wait")
        return None
    services = given.get("services") or ()
    if services and services[0].isdigit():
        raise UsageError(value_given(given.get("command") or "up", services[0]).replace(
            "--wait takes no value", f"--wait takes no value ('{services[0]}' is read as a service)"))
    text = given.get("wait_timeout")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"invalid --wait-timeout '{text}': expected a number of seconds above 0")
    return value
