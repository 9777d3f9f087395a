"""The plans of ``network create`` and ``network rm``, from one NetworkObservation. Pure.

``network create``: the blocks the hosts lack are reserved first (ReserveBlocks, all or nothing,
before any host is touched); each host whose network is missing gets a CreateNetwork, one that
differs is left as it is (drift, with the step that fixes it) unless ``recreate_empty`` and no
container is attached (RecreateNetwork). With a names resolver, and only when every host's network
is as wanted, the resolver's image goes where it is missing (loaded from this machine into one
host, copied from there to the others) and each resolver that is missing, stopped or made otherwise
is run, started or replaced. ``network rm``: each named host's network is removed where no
container is attached, and its block released once the network is gone.

Each plan also says, per host, what the command reports once its actions succeed (``NetworkResult``,
``ResolverStatus``, the block released); the road replaces those of failed actions by their errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.clustermodel import Cluster, HostBlock
from napcompose.ipam.hostblocks import by_host, check_blocks, free_blocks
from napcompose.network.desired import NetworkResult, decide, desired_network
from napcompose.network.resolver import IMAGE, ResolverStatus, config_digest, serving
from napcompose.observe.network import HostNetworkState, NetworkObservation
from napcompose.planner.actions import CopyImage, Plan
from napcompose.planner.network_actions import (BLOCKS_KEY, CreateNetwork, LoadResolverImage, RecreateNetwork,
                                                ReleaseBlock, RemoveNetwork, ReserveBlocks, RunResolver,
                                                StartResolver, network_key)


@dataclass(frozen=True)
class NetworkPlan:
    """A Plan of network actions and what each host reports once they succeed: ``networks`` (create
    and rm, host order), ``resolvers`` (create with a resolver whose networks are all as wanted) and
    ``released`` ((host, block) of rm)."""

    plan: Plan
    networks: Tuple[NetworkResult, ...] = ()
    resolvers: Tuple[ResolverStatus, ...] = ()
    released: Tuple[Tuple[str, Optional[str]], ...] = ()


def plan_blocks(cluster: Cluster, blocks: Sequence[HostBlock]) -> Tuple[Dict[str, str], Optional[ReserveBlocks]]:
    """Each host's block ({host: cidr}), and the ReserveBlocks of those it lacks (None when none
    lacks one). The hosts take the first free candidates in cluster-file order, as HostBlocks does, so
    the run reserves exactly these. ConfigError when the cluster file now overlaps a held block,
    IpamError when there is no room: asked before any host is."""
    check_blocks(cluster, blocks)
    held = by_host(blocks)
    missing = [h.name for h in cluster.hosts if h.name not in held]
    chosen = {h.name: held[h.name].cidr for h in cluster.hosts if h.name in held}
    if not missing:
        return chosen, None
    free = free_blocks(cluster, blocks, missing)
    entries = tuple(zip(missing, free))
    chosen.update(dict(entries))
    return {h.name: chosen[h.name] for h in cluster.hosts}, ReserveBlocks(entries)


def plan_network_create(observation: NetworkObservation, recreate_empty: bool = False,
                        resolver_digest: Optional[str] = None) -> NetworkPlan:
    """The plan of ``network create`` (``resolver_digest``: the digest of the resolver's image made on
    this machine, when the cluster runs one)."""
    cluster = observation.cluster
    chosen, reserve = plan_blocks(cluster, observation.blocks)
    after = (BLOCKS_KEY,) if reserve is not None else ()
    results: List[NetworkResult] = []
    actions = []
    for state in observation.hosts:
        host = cluster.host(state.host)
        block = chosen.get(state.host)
        if not state.reachable:
            results.append(NetworkResult(state.host, "failed", state.error, block=block))
            continue
        desired = desired_network(cluster.network, host, block)
        found = state.network
        what, result = decide(state.host, desired, found.options if found else None,
                              found.attached if found else (), recreate_empty)
        results.append(result)
        if what == "create":
            actions.append(CreateNetwork(state.host, desired, result.detail, after))
        elif what == "recreate":
            actions.append(RecreateNetwork(state.host, found.id, desired, result.detail, after))
    waves = tuple(w for w in ((reserve,) if reserve else (), tuple(actions)) if w)
    resolvers: Tuple[ResolverStatus, ...] = ()
    if cluster.network.resolver is not None and resolver_digest is not None and all(r.ok for r in results):
        loads, copies, runs, resolvers = _resolvers(cluster, observation.hosts, resolver_digest,
                                                    tuple(a.key for a in actions))
        waves += tuple(w for w in (loads, copies, runs) if w)
    return NetworkPlan(Plan("", waves=waves), tuple(results), resolvers)


def _resolvers(cluster: Cluster, hosts: Sequence[HostNetworkState], digest: str, networks: Tuple[str, ...]):
    """(the image's load, its copies, the runs and starts, the statuses) of every host's names resolver."""
    spec = cluster.network.resolver
    have = [s.host for s in hosts if s.resolver_image == digest]
    lacking = [s.host for s in hosts if s.resolver_image != digest]
    loads: Tuple[LoadResolverImage, ...] = ()
    source = have[0] if have else None
    if source is None and lacking:
        source = lacking.pop(0)
        loads = (LoadResolverImage(IMAGE, source, "no host has it", networks),)
    copies = tuple(CopyImage("names resolver", IMAGE, source, name, "missing or made from other programs",
                             networks + tuple(a.key for a in loads))
                   for name in lacking)
    moved = {a.host: a.key for a in loads + copies}
    runs, statuses = [], []
    for state in hosts:
        host = cluster.host(state.host)
        wanted = config_digest(spec, host, digest)
        after = networks + ((moved[host.name],) if host.name in moved else ())
        found = state.resolver
        if found is not None and found.config == wanted and found.running:
            statuses.append(ResolverStatus(host.name, "ok", serving(host)))
        elif found is not None and found.config == wanted:
            runs.append(StartResolver(host.name, found.id, f"{found.status or 'not running'}", after))
            statuses.append(ResolverStatus(host.name, "started", serving(host)))
        else:
            runs.append(RunResolver(host.name, wanted, found.id if found else None,
                                    "made otherwise" if found else "missing", after))
            statuses.append(ResolverStatus(host.name, "replaced" if found else "created", serving(host)))
    return loads, copies, tuple(runs), tuple(statuses)


def plan_network_rm(observation: NetworkObservation) -> NetworkPlan:
    """The plan of ``network rm`` on the hosts observed: the network removed where no container is
    attached (a host that did not answer, or whose network holds containers, fails and keeps its
    block), then the host's blocks released."""
    name = observation.cluster.network.name
    held = by_host(observation.blocks)
    results, removals, releases, released = [], [], [], []
    for state in observation.hosts:
        block = held.get(state.host)
        cidr = block.cidr if block is not None else None
        if not state.reachable:
            results.append(NetworkResult(state.host, "failed", state.error))
            continue
        found = state.network
        if found is not None and found.attached:
            results.append(NetworkResult(state.host, "failed", (
                f"network {name} is not removed: {len(found.attached)} container(s) attached "
                f"({', '.join(found.attached)})")))
            continue
        after: Tuple[str, ...] = ()
        if found is None:
            results.append(NetworkResult(state.host, "absent", f"no network {name}"))
        else:
            results.append(NetworkResult(state.host, "removed", f"network {name} removed"))
            removals.append(RemoveNetwork(state.host, name, found.id, "network rm"))
            after = (network_key(state.host),)
        releases.append(ReleaseBlock(state.host, cidr or "(none)", "its network is gone", after))
        released.append((state.host, cidr))
    waves = tuple(w for w in (tuple(removals), tuple(releases)) if w)
    return NetworkPlan(Plan("", waves=waves), tuple(results), released=tuple(released))


def render_network(network_plan: NetworkPlan) -> List[str]:
    """The plan as ``network create --dry-run`` prints it: one line per action, then what is left as it is."""
    lines: List[str] = []
    for action in network_plan.plan.actions:
        if isinstance(action, ReserveBlocks):
            lines += [f"block {cidr} for {host}: reserve in the store ({action.reason})"
                      for host, cidr in action.entries]
        elif isinstance(action, (CreateNetwork, RecreateNetwork)):
            verb = "create" if isinstance(action, CreateNetwork) else "remove and create again"
            lines.append(f"network {action.options.name} on {action.host}: {verb} ({action.reason})")
        elif isinstance(action, RemoveNetwork):
            lines.append(f"network {action.name} on {action.host}: remove ({action.reason})")
        elif isinstance(action, ReleaseBlock):
            lines.append(f"block {action.block} of {action.host}: release ({action.reason})")
        elif isinstance(action, LoadResolverImage):
            lines.append(f"image {action.image} on {action.host}: load from this machine ({action.reason})")
        elif isinstance(action, CopyImage):
            lines.append(f"image {action.image} on {action.host}: copy from {action.source} ({action.reason})")
        elif isinstance(action, StartResolver):
            lines.append(f"names resolver on {action.host}: start ({action.reason})")
        elif isinstance(action, RunResolver):
            verb = "replace" if action.replace else "create"
            lines.append(f"names resolver on {action.host}: {verb} ({action.reason})")
    planned = {a.host for a in network_plan.plan.actions if a.key == network_key(a.host or "")}
    for result in network_plan.networks:
        if result.host not in planned:
            lines.append(f"network on {result.host}: {result.status} ({result.detail})")
            lines += [f"    {line}" for line in result.drift]
    running = {a.host for a in network_plan.plan.actions if isinstance(a, (StartResolver, RunResolver))}
    lines += [f"names resolver on {s.host}: {s.status} ({s.detail})" for s in network_plan.resolvers
              if s.host not in running]
    if not network_plan.plan.actions:
        lines.append("nothing to do")
    return lines


__all__ = ["NetworkPlan", "plan_blocks", "plan_network_create", "plan_network_rm", "render_network"]
