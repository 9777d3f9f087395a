"""Finding one replica's container across the hosts (``cp``, ``port``), with errors that say what was found."""

from __future__ import annotations

from napcompose.errors import HostError, NapComposeError, without_host
from napcompose.model import Replica


def find_replica(deploy, project, service: str, index: int):
    """The container of replica ``index`` of ``service`` as observed; an error naming the replica, and
    its host when that host did not answer, or the replicas that exist when the index is out of range."""
    observation = deploy.orchestrator.ps(project.name, (service,), all=True)
    replica = Replica(project.name, service, index)
    found = [c for c in observation.containers if c.replica == replica and not c.one_off]
    target = next((c for c in found if c.state != "unknown" and c.id), None)
    if target is not None:
        return target
    if found:  # known only from the address book: its host did not answer
        c = found[0]
        raise HostError(c.host, f"{replica.name} cannot be reached: "
                                f"{without_host(c.host, observation.down.get(c.host, 'unreachable'))}")
    others = sorted((c.replica.index, c.host) for c in observation.containers
                    if c.replica is not None and not c.one_off and c.state != "unknown")
    if others:
        listed = ", ".join(f"{service}:{i} on {h}" for i, h in others)
        raise NapComposeError(f"no container {replica.name}: replica {index} of {service} is out of "
                              f"range (found {listed})")
    raise NapComposeError(f"no container {replica.name}: {service} has no containers (is the project up?)")
