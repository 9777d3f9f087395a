"""The plan of ``pull``: every selected service's registry image onto every host that will run it. Pure.

The hosts are the ones ``up`` would place the service's replicas on (planner/up.py:placement_of),
so a later ``up`` finds the image where it needs it; each host pulls the digest this run resolved
for the tag (observe/pins.py), all hosts at once in one wave.
"""

from __future__ import annotations

from typing import Dict, Iterable, Tuple

from napcompose.observe.observation import Addresses, Observation
from napcompose.observe.pins import Pin
from napcompose.model import Project
from napcompose.planner.actions import Plan, Pull
from napcompose.planner.options import Options
from napcompose.planner.up import pin_notes, placement_of


def plan_pull(project: Project, observation: Observation, addresses: Addresses, options: Options,
              pins: Iterable[Pin]) -> Plan:
    """One Pull per (pinned image, host that will run a replica using it); hosts that did not answer
    are left out (the plan lists them)."""
    pins = tuple(pins)
    placement = placement_of(project, observation, addresses, options)
    by_service = {name: pin for pin in pins if pin.digest for name in pin.services}
    down = observation.down
    pulls: Dict[Tuple[str, str], Pull] = {}
    for replica, host in sorted(placement.assignments, key=lambda a: (a[0].service, a[1], a[0].index)):
        pin = by_service.get(replica.service)
        if pin is None or host in down:
            continue
        pulls.setdefault((pin.reference, host), Pull(replica.service, pin.reference, host, "pull", tag=pin.image))
    waves = (tuple(pulls.values()),) if pulls else ()
    return Plan(project.name, waves, placement, hosts=observation.hosts, notes=pin_notes(pins), pins=pins)
