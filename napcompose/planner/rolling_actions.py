"""The actions of rolling updates and rollbacks, and what marks a container kept for a rollback.

A rolling update replaces a service's replicas batch by batch; each old container is stopped and
renamed ``<name>-previous`` (the kept container), never removed, until the whole update succeeds,
so a rollback can start it again with its image, configuration and address unchanged. Docker
cannot change a container's labels, so the name is what says a container is kept: its compose
labels still name its replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

from napcompose.model import ObservedContainer, Replica, UpdateConfig
from napcompose.observe.copies import PREVIOUS_SUFFIX

def previous_name(name: str) -> str:
    return name + PREVIOUS_SUFFIX


def current_name(name: str) -> str:
    """The name a kept container gets back when a rollback restores it."""
    return name[:-len(PREVIOUS_SUFFIX)] if name.endswith(PREVIOUS_SUFFIX) else name


@dataclass(frozen=True)
class RollStep:
    """One replica of a rolling update: ``container`` (the old one) is stopped and kept, a new one is
    made at ``address`` (the same). ``previous``: a container kept by an earlier update, removed first."""

    replica: Replica
    host: str
    address: str
    container: ObservedContainer
    previous: Optional[ObservedContainer] = None
    start_first: bool = False  # the new container starts beside the old one, at a new address
    port_clash: Tuple[str, ...] = ()  # fixed host ports that forced stop-first under order start-first


@dataclass(frozen=True)
class RollbackStep:
    """One replica of a rollback: ``current`` (None when it is gone) goes, ``previous`` comes back."""

    replica: Replica
    host: str
    previous: ObservedContainer
    current: Optional[ObservedContainer] = None

    @property
    def beside(self) -> bool:
        """Whether ``previous`` was kept by a start-first update: it has an address of its own, so it
        starts beside ``current`` and the consumers move before ``current`` goes."""
        return self.current is not None and bool(self.current.ip) and self.current.ip != self.previous.ip


@dataclass(frozen=True)
class RollingUpdate:
    """Recreate ``service``'s changed replicas batch by batch, each through a health gate.

    ``gate`` says what passing means (the healthcheck, or running for ``config.monitor_s``); a
    failure applies ``config.failure_action``; a rollback follows ``rollback_config``.
    """

    service: str
    batches: Tuple[Tuple[RollStep, ...], ...]
    config: UpdateConfig
    rollback_config: UpdateConfig
    gate: str
    reason: str
    after: Tuple[str, ...] = ()
    healthy: bool = False  # a dependent waits for service_healthy (the gate already covers it)
    host: Optional[str] = None  # its batches span hosts
    verb: ClassVar[str] = "Updating"
    kind: ClassVar[str] = "rolling update"

    @property
    def key(self) -> str:
        return f"update {self.service}"

    @property
    def subject(self) -> str:
        return self.service

    @property
    def steps(self) -> Tuple[RollStep, ...]:
        return tuple(step for batch in self.batches for step in batch)


@dataclass(frozen=True)
class RollBack:
    """Return ``service``'s replicas to their kept containers, batch by batch per ``config``."""

    service: str
    batches: Tuple[Tuple[RollbackStep, ...], ...]
    config: UpdateConfig
    gate: str
    reason: str = "rollback"
    after: Tuple[str, ...] = ()
    host: Optional[str] = None
    verb: ClassVar[str] = "Rolling back"
    kind: ClassVar[str] = "rollback"

    @property
    def key(self) -> str:
        return f"rollback {self.service}"

    @property
    def subject(self) -> str:
        return self.service


@dataclass(frozen=True)
class RemovePrevious:
    """Remove a kept container (``up --prune-previous``); the replica's address stays where it is."""

    replica: Replica
    host: str
    container: ObservedContainer
    reason: str = "--prune-previous"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Removing"
    kind: ClassVar[str] = "remove previous"

    @property
    def key(self) -> str:
        return f"previous {self.replica.label}@{self.host}"

    @property
    def subject(self) -> str:
        return self.container.name


ROLLING_TYPES = (RollingUpdate, RollBack, RemovePrevious)
