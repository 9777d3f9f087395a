"""The actions on the flat network itself: host blocks in the store, each host's network, the names resolver.

``network create`` and ``network rm`` plan these (planner/network.py), ``ipam gc`` plans
ReleaseBlock; the executor runs them with every other action (execute/network.py). A resolver's
image travels as every image does: loaded from this machine into one host, then a CopyImage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

from napcompose.clustermodel import NetworkOptions

BLOCKS_KEY = "blocks"


def network_key(host: str) -> str:
    """The key of the action that creates, recreates or removes the network on ``host``."""
    return f"network@{host}"


def resolver_key(host: str) -> str:
    return f"resolver@{host}"


def release_block_key(host: str) -> str:
    return f"release block@{host}"


@dataclass(frozen=True)
class ReserveBlocks:
    """Reserve in the store the block of each host in ``entries`` ((host, block), in cluster-file order),
    all before any host is touched: a failure ends the run, as a failed Reserve does."""

    entries: Tuple[Tuple[str, str], ...]
    reason: str = "each host's block of the subnet"
    after: Tuple[str, ...] = ()
    host: Optional[str] = None  # the store is the cluster's, not a host's
    verb: ClassVar[str] = "Reserving"
    kind: ClassVar[str] = "reserve blocks"

    @property
    def key(self) -> str:
        return BLOCKS_KEY

    @property
    def subject(self) -> str:
        return "host blocks"


@dataclass(frozen=True)
class ReleaseBlock:
    """Release in the store every block ``host`` holds (``block``: the one it uses, for display)."""

    host: str
    block: str
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Releasing"
    kind: ClassVar[str] = "release block"

    @property
    def key(self) -> str:
        return release_block_key(self.host)

    @property
    def subject(self) -> str:
        return f"block {self.block}"


@dataclass(frozen=True)
class CreateNetwork:
    """Create the cluster network on ``host`` with ``options`` (the host's block as its ip-range)."""

    host: str
    options: NetworkOptions
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Creating"
    kind: ClassVar[str] = "create network"

    @property
    def key(self) -> str:
        return network_key(self.host)

    @property
    def subject(self) -> str:
        return f"network {self.options.name}"


@dataclass(frozen=True)
class RecreateNetwork:
    """Remove the network ``network_id`` on ``host`` (no container attached) and create it with ``options``."""

    host: str
    network_id: str
    options: NetworkOptions
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Recreating"
    kind: ClassVar[str] = "recreate network"

    @property
    def key(self) -> str:
        return network_key(self.host)

    @property
    def subject(self) -> str:
        return f"network {self.options.name}"


@dataclass(frozen=True)
class RemoveNetwork:
    """Remove the network ``network_id`` (named ``name``) from ``host``; no container is attached."""

    host: str
    name: str
    network_id: str
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Removing"
    kind: ClassVar[str] = "remove network"

    @property
    def key(self) -> str:
        return network_key(self.host)

    @property
    def subject(self) -> str:
        return f"network {self.name}"


@dataclass(frozen=True)
class LoadResolverImage:
    """Import the resolver's image, made on this machine, into ``host``'s daemon (the others copy it from there)."""

    image: str
    host: str
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Loading"
    kind: ClassVar[str] = "load"

    @property
    def key(self) -> str:
        return f"{self.image}@{self.host}"  # planner.actions.image_key: what a CopyImage from here waits for

    @property
    def subject(self) -> str:
        return "names resolver"


@dataclass(frozen=True)
class StartResolver:
    """Start the stopped resolver ``container_id`` on ``host``: it is made as the cluster file asks."""

    host: str
    container_id: str
    reason: str = "stopped"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Starting"
    kind: ClassVar[str] = "start resolver"

    @property
    def key(self) -> str:
        return resolver_key(self.host)

    @property
    def subject(self) -> str:
        return "names resolver"


@dataclass(frozen=True)
class RunResolver:
    """Create and start the resolver on ``host`` labelled ``config`` (its config digest), removing the
    container ``replace`` (made otherwise) first."""

    host: str
    config: str
    replace: Optional[str] = None
    reason: str = "missing"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Running"
    kind: ClassVar[str] = "run resolver"

    @property
    def key(self) -> str:
        return resolver_key(self.host)

    @property
    def subject(self) -> str:
        return "names resolver"


NETWORK_TYPES = (ReserveBlocks, ReleaseBlock, CreateNetwork, RecreateNetwork, RemoveNetwork, LoadResolverImage,
                 StartResolver, RunResolver)
