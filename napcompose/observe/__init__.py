"""Observe: what the hosts and the address store hold, read once per command.

``hosts.observe`` asks every host at once and turns a host that does not answer into a HostStatus;
``observation`` holds the frozen values it returns (``Observation``, the project's ``Addresses``) and
the stand-ins that take an unreachable host's containers' place; ``view.observe_with_store`` completes
the hosts' answers from the store (evicted hosts, stand-ins), the one road of ``ps`` and the
Orchestrator alike; ``copies`` tells which copies of a replica ``ps`` marks superseded or kept for a
rollback. The planner reads only these values.
``network`` asks every host for the cluster network itself: the containers on it (``network check``,
``ipam ls --all``), the network and names resolver each host holds (``network create|rm``) and whether
each resolver runs as asked (``network check``, ``hosts check``).
"""

from napcompose.observe.hosts import observe, with_stand_ins
from napcompose.observe.network import (HostNetworkState, NetworkObservation, observe_network, observe_networks,
                                        observe_resolvers)
from napcompose.observe.observation import (Addresses, Observation, parse_owner, parse_stranded, stand_ins,
                                            stranded_owner)

__all__ = ["Addresses", "HostNetworkState", "NetworkObservation", "Observation", "observe", "observe_network",
           "observe_networks", "observe_resolvers", "parse_owner", "parse_stranded", "stand_ins",
           "stranded_owner", "with_stand_ins"]
