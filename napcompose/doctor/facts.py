"""What was gathered from a host and from the store, as plain values (None: not asked or not known)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Link:
    """A network interface of a host as ``ip -d addr show`` lists it."""

    name: str
    mtu: int
    kind: str = ""  # "bridge", "veth", "" (a plain NIC), "bond", "vlan", ...
    master: Optional[str] = None  # the bridge it is a port of
    addresses: Tuple[str, ...] = ()  # "198.18.0.11/24"
    wireless: bool = False


@dataclass(frozen=True)
class ResolverFacts:
    container: Optional[str] = None  # the resolver container's state ("running", "exited"); None: none
    answered: bool = False  # a DNS query to the host's address, port 53, got an answer
    error: str = ""  # why it did not


@dataclass(frozen=True)
class HostFacts:
    """Everything ``doctor`` asked one host. A field left None was not asked (an earlier step failed)."""

    host: str
    ssh_error: Optional[str] = None
    host_key_refused: bool = False  # the SSH error is a refused (unknown, changed or revoked) key
    docker_error: Optional[str] = None
    docker_version: Optional[str] = None
    api_version: Optional[str] = None
    docker_route: Optional[str] = None  # the stream-local socket path, or None
    route_refused: Optional[str] = None  # why the stream-local channel was refused (dial-stdio is used)
    links: Optional[Tuple[Link, ...]] = None
    links_error: Optional[str] = None
    netfilter: Optional[Tuple[Tuple[str, Optional[int]], ...]] = None  # (sysctl name, value or None)
    forward_rules: Optional[Tuple[str, ...]] = None  # `iptables -S FORWARD`; None: not readable
    clock_offset_s: Optional[float] = None  # host minus this machine
    clock_uncertainty_s: Optional[float] = None  # half the round trip of the reading
    clock_error: Optional[str] = None
    state_dir: str = "/var/lib/nap-compose"
    state_dir_error: Optional[str] = None  # None with state_dir_checked: writable
    state_dir_checked: bool = False
    programs: Optional[Tuple[str, ...]] = None  # which of judge.PROGRAMS the host has; None: not asked
    resolver: Optional[ResolverFacts] = None


@dataclass(frozen=True)
class MemberHealth:
    endpoint: str  # host:port as the cluster file names it
    healthy: bool
    detail: str = ""


@dataclass(frozen=True)
class StoreFacts:
    url: str
    error: Optional[str] = None  # the store could not be opened
    tls: bool = False  # https to etcd (store.ca_cert or store.cert)
    client_cert: bool = False
    auth: bool = False  # store.username
    members: Tuple[MemberHealth, ...] = ()
    pool_size: int = 0
    pool_used: Optional[int] = None
    pool_error: Optional[str] = None
