"""Where shipping project files meets a run: the three calls ``up``, ``preview`` and ``down`` make.

- ``with_host_copies(project)`` (before planning): scans every shipped bind source (refusing missing
  ones and symlinks out of the project before anything changes) and points each bind at its host
  copy. The copy's path holds the source's digest, so an edited file changes the config hash of
  exactly the services that mount it, and nothing else.
- ``ship_files(core, shipped, plan, down)`` (after planning, before any container is touched): sends
  each host the sources its replicas use, one host per thread; a host that fails is added to
  ``down``, so no container is created there with a bind to a copy that is not there.
- ``remove_files(core, project, keep_hosts, down)`` (at the end of ``down``): removes the project's
  copies from every host that answers and keeps none of its containers.

Kept apart from the run's own logic so it can become an action of its own in a plan.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Dict, Iterable, List, Mapping, Tuple

from napcompose.errors import NapComposeError
from napcompose.model import Outcome, Project
from napcompose.shipping import Shipped, rewrite, shipped_by_service
from napcompose.shipping_copy import remove_project_files, ship_to_host

ShippedByService = Mapping[str, Tuple[Shipped, ...]]


def with_host_copies(project: Project) -> Tuple[Project, Dict[str, Tuple[Shipped, ...]]]:
    """The project with shipped binds pointed at their host copies, and what is shipped per service."""
    shipped = shipped_by_service(project)
    if not shipped:
        return project, {}
    services = tuple(rewrite(spec, shipped.get(spec.name, ())) for spec in project.services)
    return replace(project, services=services), shipped


def _parallel(core, hosts: Iterable[str], work) -> Dict[str, Exception]:
    hosts = sorted(set(hosts))
    failed: Dict[str, Exception] = {}
    if not hosts:
        return failed
    with ThreadPoolExecutor(max_workers=max(1, min(len(hosts), core.max_workers))) as pool:
        futures = {host: pool.submit(work, host) for host in hosts}
        for host, future in futures.items():
            try:
                future.result()
            except NapComposeError as exc:
                failed[host] = exc
    return failed


def ship_files(core, project: Project, shipped: ShippedByService, plan, down: Dict[str, str]) -> List[Outcome]:
    """Send every host of the plan the sources its replicas mount; failures join ``down``."""
    per_host: Dict[str, Dict[str, Shipped]] = {}
    for wave in plan.waves:
        for action in wave:
            if action.host in down:
                continue
            for source in shipped.get(action.replica.service, ()):
                per_host.setdefault(action.host, {})[source.digest] = source

    def work(host: str) -> None:
        sources = list(per_host[host].values())
        core.step("files", "Shipping", host, None,
                  lambda: ship_to_host(host, core.files(host), project.name, sources))

    failed = _parallel(core, per_host, work)
    outcomes = []
    for host in sorted(per_host):
        error = failed.get(host)
        if error is not None:
            down[host] = f"shipping project files failed: {error}"
        outcomes.append(Outcome("files", "Shipping", host, str(error) if error else None))
    return outcomes


def remove_files(core, project_name: str, keep_hosts: Iterable[str], down: Mapping[str, str]) -> List[Outcome]:
    """Remove the project's copies from every reachable host that keeps none of its containers."""
    keep = set(keep_hosts)
    hosts = [h.name for h in core.cluster.hosts if h.name not in down and h.name not in keep]
    failed = _parallel(core, hosts, lambda host: remove_project_files(core.files(host), project_name))
    return [Outcome("files", "Removing", host, str(failed[host])) for host in sorted(failed)]
