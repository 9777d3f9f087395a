"""What ``run`` and ``exec`` share: their ``-e`` and command words, and the operator's streams
attached to a process (a raw local terminal with a tty, restored however the session ends)."""

from __future__ import annotations

import re
from typing import Mapping, Sequence, Tuple

from napcompose.errors import UsageError
from napcompose.adapters.tty import LocalStreams, is_terminal, raw_terminal

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_env(pairs: Sequence[str], environ: Mapping[str, str], flag: str = "-e") -> Tuple[Tuple[str, str], ...]:
    """``-e KEY=VALUE`` (or ``-e KEY``: its value here, left out when unset, as docker does)."""
    found = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not _ENV_NAME.match(name):
            raise UsageError(f"invalid {flag} {pair!r}: expected KEY=VALUE or KEY, where KEY is a variable name")
        if sep:
            found.append((name, value))
        elif name in environ:
            found.append((name, environ[name]))
    return tuple(found)


def command_of(words: Sequence[str]) -> Tuple[str, ...]:
    """The command after the service, without a leading ``--``."""
    words = list(words)
    if words and words[0] == "--":
        words = words[1:]
    return tuple(words)


def wants_tty(ctx, no_tty: bool) -> bool:
    """A pseudo-terminal unless ``-T``, and only when our own stdin and stdout are terminals."""
    return not no_tty and is_terminal(ctx.stdin) and is_terminal(ctx.stdout)


def attached(ctx, tty: bool, session) -> int:
    """Run ``session(streams)`` with the operator's streams (raw terminal with a tty); its result."""
    streams = LocalStreams(ctx.stdin, ctx.stdout, ctx.stderr, terminal=tty)
    try:
        with raw_terminal(ctx.stdin if tty else None):
            return session(streams)
    finally:
        streams.close()
