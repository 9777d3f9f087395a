"""The hosts' answers completed from the store: evicted hosts, and stand-ins for unanswered hosts.

``observe_with_store`` is what every command sees of a project: ``hosts.observe`` asked every host;
the store adds the hosts the operator evicted and, for a host that did not answer, the containers its
addresses say it holds. ``ps`` and its kin (``read_only``) read the store only when a host did not
answer, and a store that fails then is a warning: it must not hide what the hosts said.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Mapping, Optional, Sequence

from napcompose.clustermodel import Cluster
from napcompose.observe.hosts import observe, with_stand_ins
from napcompose.observe.observation import Addresses, Observation
from napcompose.ports import ContainerEngine


def observe_with_store(cluster: Cluster, engines: Mapping[str, ContainerEngine], project_name: Optional[str], *,
                       evicted: Optional[Callable[[], Iterable[str]]], addresses: Callable[[], Addresses],
                       warn: Callable[[str], None], read_only: bool = False, everything: bool = False,
                       images: Sequence[str] = (), volumes: Sequence[str] = (), max_workers: int = 16,
                       observed_at: float = 0.0) -> Observation:
    """Every host asked at once (``hosts.observe``), then the store: ``evicted()`` names the evicted
    hosts (None: no eviction records), ``addresses()`` the project's addresses for the stand-ins.

    Without ``read_only`` the evicted hosts are read whatever answered (planning needs them) and a
    failure to read them raises; the addresses failing is always a warning (``warn``), and the
    observation is returned as the hosts gave it."""
    seen = observe(cluster, engines, project_name, everything=everything, images=images,
                   max_workers=max_workers, observed_at=observed_at, volumes=volumes)
    if evicted is not None and (not read_only or seen.down):
        known = {h.name for h in cluster.hosts}
        try:
            gone = tuple(sorted(h for h in evicted() if h in known))
        except Exception as exc:  # for a read-only view, the store failing must not hide the hosts
            if not read_only:
                raise
            warn(f"could not read the address store: {exc}")
            return seen
        seen = replace(seen, evicted=gone)
    if seen.down and project_name:
        try:
            held = addresses()
        except Exception as exc:  # the store failing must not hide what the hosts said
            warn(f"could not read the address store: {exc}")
            return seen
        seen = with_stand_ins(seen, held)
    return seen


def only_services(observation: Observation, services: Sequence[str] = (), all: bool = True) -> Observation:
    """``observation`` with only the containers of ``services`` (every one when empty), and only the
    running ones unless ``all``."""
    chosen = tuple(c for c in observation.containers
                   if (not services or (c.replica is not None and c.replica.service in services))
                   and (all or c.state == "running"))
    return replace(observation, containers=chosen)
