"""The bridge filters' part of ``network check`` and ``network create``: findings and repairs per host.

``network check`` reports each host whose loaded table differs from the one the records call for
(kind ``filter-drift``); ``network create`` loads every host's table from the records, or removes
it where the cluster file turns isolation off.
"""

from __future__ import annotations

from typing import List, Mapping

from napcompose.errors import ExitStatus
from napcompose.execute.isolation import check_filters, repair_filters
from napcompose.network.check import Finding


def filter_findings(ctx, session, unreachable: Mapping[str, str]) -> List[Finding]:
    """A ``filter-drift`` finding per answering host whose bridge filter is not what the records say."""
    cluster = session.cluster
    bridge = ctx.wiring.bridge_filter(cluster, session.connections)
    if bridge is None or not cluster.network.isolation:  # off: hosts need no nftables at all
        return []
    hosts = [h.name for h in cluster.hosts if h.name not in unreachable]
    drifts = check_filters(cluster, session.engines, session.ipam(), bridge, hosts)
    return [Finding("filter-drift", None, d.host, None,
                    f"the bridge filter on {d.host} differs from the records: {'; '.join(d.lines)} "
                    "(run `nap-compose network create`)") for d in drifts]


def repair(ctx, session, width: int) -> int:
    """Load every host's bridge filter from the records (one line per host); HOST status when one fails."""
    cluster = session.cluster
    bridge = ctx.wiring.bridge_filter(cluster, session.connections)
    if bridge is None or not cluster.network.isolation:  # off: hosts need no nftables at all
        return ExitStatus.OK
    results = repair_filters(cluster, session.engines, session.ipam(), bridge, [h.name for h in cluster.hosts])
    done = "loaded" if cluster.network.isolation else "removed"
    for host, error in sorted(results.items()):
        ctx.out(f"{host:<{width}}  filter    {'failed' if error else done:<9} "
                + (error if error else "isolation groups and container ports from the records"
                   if cluster.network.isolation else "isolation is off"))
    failed = sorted(h for h, e in results.items() if e)
    if failed:
        ctx.err(f"ERROR: bridge filter: {len(failed)} of {len(results)} host(s) failed: {', '.join(failed)}")
        return ExitStatus.HOST
    return ExitStatus.OK
