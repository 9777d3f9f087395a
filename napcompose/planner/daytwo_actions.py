"""The actions of the commands a user types on a running project: pause, unpause, and the removal
of volumes (``down -v``). Frozen values like every action (actions.py holds the closed set)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

from napcompose.model import ObservedContainer, Replica


@dataclass(frozen=True)
class Pause:
    """Freeze every process of ``container`` (Docker's cgroup freezer); its address and names stay."""

    replica: Replica
    host: str
    reason: str
    after: Tuple[str, ...] = ()
    container: Optional[ObservedContainer] = None
    verb: ClassVar[str] = "Pausing"
    kind: ClassVar[str] = "pause"

    @property
    def key(self) -> str:
        return f"pause {self.replica.label}@{self.host}"

    @property
    def subject(self) -> str:
        return self.replica.label


@dataclass(frozen=True)
class Unpause:
    """Thaw the processes of the paused ``container``."""

    replica: Replica
    host: str
    reason: str
    after: Tuple[str, ...] = ()
    container: Optional[ObservedContainer] = None
    verb: ClassVar[str] = "Unpausing"
    kind: ClassVar[str] = "unpause"

    @property
    def key(self) -> str:
        return f"unpause {self.replica.label}@{self.host}"

    @property
    def subject(self) -> str:
        return self.replica.label


@dataclass(frozen=True)
class RemoveVolume:
    """Remove the named volume ``volume`` from ``host`` once the project's containers there are gone.

    ``in_use_by`` names the containers of other projects that mount it: then it is kept, with a
    warning, as docker compose keeps a volume still in use.
    """

    host: str
    volume: str
    reason: str = "down -v"
    after: Tuple[str, ...] = ()
    in_use_by: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Removing volume"
    kind: ClassVar[str] = "remove volume"

    @property
    def key(self) -> str:
        return f"volume {self.volume}@{self.host}"

    @property
    def subject(self) -> str:
        return self.volume
