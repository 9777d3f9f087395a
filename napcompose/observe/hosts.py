"""The one place that asks the hosts what they hold: every host at once, one question set per host."""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from napcompose.errors import NapComposeError
from napcompose.parallel import fan_out
from napcompose.model import HostStatus, ObservedContainer, Replica
from napcompose.clustermodel import Cluster
from napcompose.observe.observation import Addresses, Observation, stand_ins
from napcompose.ports import ContainerEngine


def observe(cluster: Cluster, engines: Mapping[str, ContainerEngine], project: Optional[str], *,
            everything: bool = False, images: Sequence[str] = (), max_workers: int = 16,
            observed_at: float = 0.0, volumes: Sequence[str] = ()) -> Observation:
    """Ask every host, in parallel, for its containers (the project's, or every nap-compose one when
    ``everything``), for the id of each of ``images`` and for which of the named ``volumes`` it holds.

    A host that fails to answer becomes a HostStatus with its reason, never an exception. An image
    a host cannot tell about is left out (unknown), which changes no decision.
    """
    wanted = sorted(set(images))

    def ask(host: str):
        engine = engines[host]
        containers = engine.list_containers(None if everything else project)
        held = sorted(set(engine.volume_names()) & set(volumes)) if volumes else []
        ids = {}
        for image in wanted:
            try:
                ids[(host, image)] = engine.image_id(image)
            except NapComposeError:
                continue
        return containers, ids, [(host, name) for name in held]

    results = fan_out([h.name for h in cluster.hosts], ask, max_workers=max_workers)
    containers: List[ObservedContainer] = []
    image_ids: Dict[Tuple[str, str], Optional[str]] = {}
    statuses, held = [], []
    for result in results:
        if result.ok:
            found, ids, volumes_there = result.value
            containers.extend(found)
            image_ids.update(ids)
            held.extend(volumes_there)
            statuses.append(HostStatus(result.key, True))
        else:
            statuses.append(HostStatus(result.key, False, result.error))
    containers.sort(key=lambda c: (c.replica or Replica("", "", 0), c.host, c.name, c.id))
    return Observation(cluster, project or "", tuple(containers), tuple(statuses),
                       tuple(sorted(image_ids.items())), everything, observed_at, tuple(sorted(held)))


def with_stand_ins(observation: Observation, addresses: Addresses) -> Observation:
    """``observation`` plus stand-ins for the project's containers on the hosts that did not answer."""
    down = observation.down
    if not down:
        return observation
    seen = {(c.replica, c.host) for c in observation.containers}
    extra = tuple(c for c in stand_ins(addresses, down) if (c.replica, c.host) not in seen)
    return replace(observation, containers=observation.containers + extra)
