"""The roads of ``network create`` and ``network rm``: read the blocks, observe the hosts, plan, run.

The store's host blocks are read first, so a store out of reach, or a cluster file that overlaps a
held block, stops the command before any host is asked. The hosts are then observed at once
(observe/network.py), the plan made (planner/network.py) and run on the one executor, whose handlers
act through ``core.networks`` and ``core.blocks``. What each host reports is the plan's expectation,
or the error of the action that failed there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple

from napcompose.errors import without_host
from napcompose.execute.executor import run_plan
from napcompose.execute.state import Core
from napcompose.model import Outcome, Project
from napcompose.network.desired import NetworkResult
from napcompose.network.resolver import IMAGE, ResolverStatus
from napcompose.observe import Addresses, observe_networks
from napcompose.planner import Options, image_key
from napcompose.planner.network import NetworkPlan, plan_blocks, plan_network_create, plan_network_rm
from napcompose.planner.network_actions import network_key, release_block_key, resolver_key


@dataclass(frozen=True)
class NetworkRun:
    """What ``network create`` or ``network rm`` did, per host in cluster order: the network's result,
    the resolver's status (create; none when a network is not as wanted) and, for rm, the block
    released (host, block or None) on each host whose network is gone."""

    networks: Tuple[NetworkResult, ...]
    resolvers: Tuple[ResolverStatus, ...] = ()
    released: Tuple[Tuple[str, Optional[str]], ...] = ()


def plan_create(core: Core, recreate_empty: bool = False, resolver_digest: Optional[str] = None) -> NetworkPlan:
    """Observe every host and plan ``network create``; nothing is reserved or changed."""
    cluster = core.cluster
    blocks = core.blocks.list()
    plan_blocks(cluster, blocks)  # a conflict or no room stops the command before any host is asked
    seen = observe_networks(cluster, core.networks, blocks, resolvers=resolver_digest is not None,
                            max_workers=core.max_workers)
    return plan_network_create(seen, recreate_empty, resolver_digest)


def plan_rm(core: Core, hosts: Sequence[str]) -> NetworkPlan:
    """Observe the named hosts and plan ``network rm``; nothing is changed."""
    blocks = core.blocks.list()  # a store out of reach stops the command before any host is asked
    return plan_network_rm(observe_networks(core.cluster, core.networks, blocks, hosts, max_workers=core.max_workers))


def network_create(core: Core, recreate_empty: bool = False, resolver_digest: Optional[str] = None) -> NetworkRun:
    return run_create(core, plan_create(core, recreate_empty, resolver_digest))


def run_create(core: Core, planned: NetworkPlan) -> NetworkRun:
    done = _run(core, planned)
    networks = tuple(_failed_network(r, done.get(network_key(r.host))) for r in planned.networks)
    if not all(r.ok for r in networks):
        return NetworkRun(networks)
    resolvers = []
    for status in planned.resolvers:
        error = (_error(status.host, done.get(image_key(IMAGE, status.host)))
                 or _error(status.host, done.get(resolver_key(status.host))))
        resolvers.append(status if error is None else ResolverStatus(status.host, "failed", error))
    return NetworkRun(networks, tuple(resolvers))


def network_rm(core: Core, hosts: Sequence[str]) -> NetworkRun:
    planned = plan_rm(core, hosts)
    done = _run(core, planned)
    networks = tuple(_failed_network(r, done.get(network_key(r.host))) for r in planned.networks)
    released = []
    by_host = {r.host: r for r in networks}
    for host, block in planned.released:
        if by_host[host].status == "failed":
            continue  # its network is still there: the block's release was skipped
        error = _error(host, done.get(release_block_key(host)))
        if error is not None:
            by_host[host] = NetworkResult(host, "failed", error)
        else:
            released.append((host, block))
    return NetworkRun(tuple(by_host[r.host] for r in networks), released=tuple(released))


def _run(core: Core, planned: NetworkPlan) -> Dict[str, Outcome]:
    """Run the plan on the one executor: {action key: its outcome}."""
    plan = planned.plan
    report = run_plan(core, Project("", ()), Options(), plan, Addresses())
    return {action.key: outcome for action, outcome in zip(plan.actions, report.outcomes)}


def _error(host: str, outcome: Optional[Outcome]) -> Optional[str]:
    if outcome is None or outcome.ok:
        return None
    return without_host(host, outcome.error or "failed")


def _failed_network(result: NetworkResult, outcome: Optional[Outcome]) -> NetworkResult:
    error = _error(result.host, outcome)
    return result if error is None else replace(result, status="failed", detail=error, drift=())
