"""What a command handler gets: parsed arguments, its three streams, environment, working directory, wiring."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, Optional, Sequence, TextIO

from napcompose.cli.wiring import Wiring


@dataclass
class Context:
    args: argparse.Namespace
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]
    cwd: str
    wiring: Wiring
    stdin: TextIO = None  # where questions are answered (``rm``'s confirmation)
    argv: Sequence[str] = ()  # the command line, as other writers see it in the project lock
    project_lock: Optional[Any] = None  # the project lock this command holds (cli.locking)
    session: Optional[Any] = None  # the cluster, connections and store of this command (cli.session)
    _closers: List[Callable[[], Any]] = field(default_factory=list)

    def out(self, line: str = "") -> None:
        self.stdout.write(line + "\n")

    def err(self, line: str) -> None:
        self.stderr.write(line + "\n")

    def on_close(self, closer: Callable[[], Any]) -> None:
        """Run ``closer`` when the command ends (connections, locks).

        A closer may return a NapComposeError (a lock lost during the run): the first one becomes the
        outcome of a command that otherwise succeeded.
        """
        self._closers.append(closer)

    def close(self) -> Optional[Exception]:
        problem = None
        while self._closers:
            try:
                returned = self._closers.pop()()
            except Exception:  # closing must never hide the command's own outcome
                continue
            if problem is None and isinstance(returned, Exception):
                problem = returned
        return problem
