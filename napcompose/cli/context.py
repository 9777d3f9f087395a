"""What a command handler gets: parsed arguments, its three streams, environment, working directory, wiring."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, TextIO

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
    _closers: List[Callable[[], Any]] = field(default_factory=list)

    def out(self, line: str = "") -> None:
        self.stdout.write(line + "\n")

    def err(self, line: str) -> None:
        self.stderr.write(line + "\n")

    def on_close(self, closer: Callable[[], Any]) -> None:
        """Run ``closer`` when the command ends (connections, locks)."""
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            try:
                self._closers.pop()()
            except Exception:  # closing must never hide the command's own outcome
                pass
