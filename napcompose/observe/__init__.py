"""Observe: what the hosts and the address store hold, read once per command.

``hosts.observe`` asks every host at once and turns a host that does not answer into a HostStatus;
``observation`` holds the frozen values it returns (``Observation``, the project's ``Addresses``) and
the stand-ins that take an unreachable host's containers' place. The planner reads only these values.
``network.observe_network`` asks every host for the cluster network itself (``network check``,
``ipam ls --all``).
"""

from napcompose.observe.hosts import observe, with_stand_ins
from napcompose.observe.network import observe_network
from napcompose.observe.observation import (Addresses, Observation, parse_owner, parse_stranded, stand_ins,
                                            stranded_owner)

__all__ = ["Addresses", "Observation", "observe", "observe_network", "parse_owner", "parse_stranded", "stand_ins",
           "stranded_owner", "with_stand_ins"]
