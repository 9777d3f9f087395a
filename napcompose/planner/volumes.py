"""Which named volumes ``down -v`` removes, where, and which it must keep. Pure.

A project's named volume (not ``external``) may live on every host that ran one of its replicas;
each is removed once the project's containers on that host are gone. A volume that a container
the run does not remove still mounts (another project's, or one the run leaves) is kept and said
so: docker compose warns and goes on in that case, and so does nap-compose.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from napcompose.model import ObservedContainer, Project
from napcompose.observe.observation import Observation
from napcompose.planner.daytwo_actions import RemoveVolume


def removable(project: Optional[Project]) -> List[str]:
    """The Docker names of the project's own named volumes (``external`` ones are never removed)."""
    if project is None:
        return []
    return sorted(v.name for v in project.volumes if not v.external)


def volume_removals(project: Optional[Project], observation: Observation, removed: Sequence[ObservedContainer],
                    removal_keys: Dict[str, List[str]]) -> List[RemoveVolume]:
    """A RemoveVolume for every (host, volume) of the project's that the observation found.

    ``removed``: the containers the run removes; ``removal_keys``: per host, the keys of those removals
    (a volume goes after them)."""
    wanted = set(removable(project))
    gone = {(c.host, c.id) for c in removed}
    actions = []
    for host, name in observation.volumes:
        if name not in wanted or host in observation.down:
            continue
        users = sorted(c.name for c in observation.containers
                       if c.host == host and name in c.mounts and (c.host, c.id) not in gone)
        actions.append(RemoveVolume(host, name, after=tuple(removal_keys.get(host, ())), in_use_by=tuple(users)))
    return sorted(actions, key=lambda a: (a.volume, a.host))
