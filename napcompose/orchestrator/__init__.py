"""Deploying a project over the cluster: observe → place → reserve → plan → apply → hosts files.

The Orchestrator only talks to the ports it is given (one ContainerEngine per host, RemoteFiles per
host, the Ipam, a Reporter, a Clock). ``up`` never raises for a container that fails: every outcome
is in the RunReport it returns, and the CLI turns failures into a PartialFailure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from napcompose.errors import ConfigError, NapComposeError
from napcompose.executor import run_waves
from napcompose.hostsfile import check_names, peer_entries
from napcompose.model import (Allocation, HostStatus, ObservedContainer, Outcome, Placement, Project,
                              Replica, RunReport)
from napcompose.orchestrator.base import Core
from napcompose.orchestrator.hosts import check_blocks, write_blocks
from napcompose.orchestrator.lifecycle import Lifecycle
from napcompose.orchestrator.ship import ship_files, with_host_copies
from napcompose.orchestrator.steps import Steps, VERBS, healthy_needed
from napcompose.orchestrator.views import HostsDrift, Observation, Preview, PreviewEntry
from napcompose.placement import place
from napcompose.planner import (Plan, PlanOptions, build_requests, direct_dependencies, plan,
                                selected_services)

__all__ = ["Orchestrator", "Observation", "Preview", "PreviewEntry", "HostsDrift", "RunReport", "Outcome"]

NEW = "(new)"


@dataclass(frozen=True)
class _Prepared:
    placement: Placement
    allocations: Dict[Replica, Allocation]
    plan: Plan
    observed: Tuple[ObservedContainer, ...]  # this project's, stand-ins for unreachable hosts included
    hosts: Tuple[HostStatus, ...]
    down: Dict[str, str]


class Orchestrator(Lifecycle, Core):
    """Every deploy operation of one cluster. Call one operation at a time; each runs its own work
    in parallel across hosts and containers."""

    # ------------------------------------------------------------------ reading
    def observe(self, project_name: str) -> Observation:
        """The project's containers on every host, asked in parallel; unreachable hosts carry their reason."""
        containers, statuses = self.scan(project_name)
        return Observation(tuple(containers), statuses)

    def ps(self, project_name: str, services: Sequence[str] = (), all: bool = True) -> Observation:
        containers, statuses = self.scan(project_name)
        chosen = [c for c in containers
                  if (not services or (c.replica is not None and c.replica.service in services))
                  and (all or c.state == "running")]
        return Observation(tuple(chosen), statuses)

    # ------------------------------------------------------------------ planning
    def _prepare(self, project: Project, options: PlanOptions, scales: Optional[Mapping[str, int]],
                 reserve: bool) -> _Prepared:
        selected = selected_services(project, options)
        check_names(project)
        everything, statuses = self.scan(None)
        down = {s.host: s.error or "unreachable" for s in statuses if not s.reachable}
        allocations_now = self.project_allocations(project.name) if down or not reserve else {}
        stand_ins = self.unknown_containers(project.name, down, allocations_now)
        observed = everything + stand_ins
        mine = tuple(c for c in observed if c.replica is not None and c.replica.project == project.name)

        wanted = self._scales(project, selected, mine, scales)
        reachable = [h for h in self.cluster.hosts if h.name not in down]
        placement = place(project, reachable, observed, wanted)
        existing = {c.replica for c in mine}
        assignments = tuple((r, h) for r, h in placement.assignments
                            if r.service in selected or r in existing)
        placement = Placement(assignments)
        fixed = {r: self._fixed_address(project, r) for r in placement.replicas}
        if reserve:
            got = self.ipam.ensure_many([(r.owner, h, fixed[r]) for r, h in assignments])
            allocations = dict(zip(placement.replicas, got))
        else:
            allocations = {}
            for replica, host in assignments:
                # a placeholder per replica keeps new peers on lines of their own in the preview
                allocations[replica] = allocations_now.get(replica) or Allocation(
                    fixed[replica] or f"{NEW[:-1]}:{replica.name})", replica.owner, host, "new", 0.0, "")
        requests = build_requests(project, placement, allocations, self.cluster.network.name)
        # Only replicas that have a container to compare need their image's current id, and only
        # when the answer can change the decision.
        compare = not (options.no_recreate or options.force_recreate)
        made_from = {c.replica for c in mine if c.image_id} if compare else set()
        image_ids = self.image_ids((r.host, r.image) for replica, r in requests.items()
                                   if replica.service in selected and replica in made_from
                                   and r.host not in down)
        the_plan = plan(project, requests, mine, options, image_ids)
        return _Prepared(placement, allocations, the_plan, mine, statuses, down)

    @staticmethod
    def _scales(project: Project, selected, mine, scales) -> Dict[str, int]:
        """The file's scale for selected services, the running count for the others (left untouched)."""
        wanted = {}
        for spec in project.services:
            if spec.name in selected:
                wanted[spec.name] = spec.scale
            else:
                indexes = [c.replica.index for c in mine if c.replica.service == spec.name]
                wanted[spec.name] = max(indexes, default=0)
        wanted.update(scales or {})
        return wanted

    def _fixed_address(self, project: Project, replica: Replica) -> Optional[str]:
        """``ipv4_address`` + (index - 1) when the service asks for one; it must be in the cluster subnet."""
        spec = project.service(replica.service)
        base = next((n.ipv4_address for n in spec.networks if n.ipv4_address), None)
        if base is None:
            return None
        network = self.cluster.network
        subnet = ipaddress.ip_network(network.subnet, strict=False)
        try:
            first = ipaddress.ip_address(base)
        except ValueError:
            raise ConfigError(f"service {spec.name}: ipv4_address {base!r} is not an IPv4 address") from None
        if first not in subnet:
            raise ConfigError(f"service {spec.name}: ipv4_address {base} is outside the cluster network "
                              f"{network.name} ({network.subnet})")
        address = first + (replica.index - 1)
        if address not in subnet:
            raise ConfigError(f"service {spec.name}: replica {replica.index} would get {address} "
                              f"(ipv4_address {base} + {replica.index - 1}), outside the cluster network "
                              f"{network.name} ({network.subnet})")
        return str(address)

    def preview(self, project: Project, options: PlanOptions = PlanOptions(),
                scales: Optional[Mapping[str, int]] = None) -> Preview:
        """What ``up`` would do: placement, addresses, plan and hosts lines. Reserves and touches nothing."""
        project, _ = with_host_copies(project)  # the hashes up will compare; refuses bad sources
        prepared = self._prepare(project, options, scales, reserve=False)
        address_of = {r: prepared.allocations[r].ip for r in prepared.placement.replicas}
        shown = {ip: (NEW if ip.startswith(NEW[:-1]) else ip) for ip in address_of.values()}
        addresses = tuple((r, shown[address_of[r]]) for r in prepared.placement.replicas)
        entries = []
        for action in prepared.plan.removals:
            entries.append(PreviewEntry(action.replica, action.host, action.container.ip or "",
                                        action.kind, action.reason))
        for wave in prepared.plan.waves:
            for action in wave:
                lines = tuple(f"{shown[ip]} {' '.join(names)}" for ip, names
                              in peer_entries(project, action.replica.service, address_of))
                entries.append(PreviewEntry(action.replica, action.host, shown[address_of[action.replica]],
                                            action.kind, action.reason, lines))
        return Preview(prepared.placement, addresses, prepared.plan, tuple(entries), prepared.hosts)

    # ------------------------------------------------------------------ converging
    def up(self, project: Project, options: PlanOptions = PlanOptions(),
           scales: Optional[Mapping[str, int]] = None, timeout: Optional[float] = None) -> RunReport:
        """Converge the project: create, recreate, start and remove as planned, then write hosts blocks.

        Raises (before anything changes) ConfigError, UsageError, PlacementError and IpamError;
        everything after is reported per container in the RunReport.
        """
        project, shipped = with_host_copies(project)  # refuses bad sources before anything changes
        prepared = self._prepare(project, options, scales, reserve=True)
        the_plan = prepared.plan
        outcomes: List[Outcome] = [Outcome(s.host, "Observing", s.host, s.error)
                                   for s in prepared.hosts if not s.reachable]
        outcomes += ship_files(self, project, shipped, the_plan, prepared.down)  # a failed host joins down
        for orphan in the_plan.orphans:
            self.reporter.warning(f"found orphan container {orphan.name} on {orphan.host} (service "
                                  f"{orphan.replica.service} is not in the project); "
                                  "pass --remove-orphans to remove it")
        duplicates = {id(a.container) for a in the_plan.removals if a.reason.startswith("duplicate")}
        current = {}
        for container in prepared.observed:
            if container.one_off or id(container) in duplicates:
                continue
            if container.replica not in current:
                current[container.replica] = container
        for action in (a for wave in the_plan.waves for a in wave):
            if action.container is not None:
                current[action.replica] = action.container
        steps = Steps(self, project, options, current, prepared.down,
                      healthy_needed(project, selected_services(project, options)), timeout)

        removed = run_waves([the_plan.removals], steps.run, lambda a: f"{a.subject}@{a.host}",
                            lambda a: (), self.max_workers)
        for action in the_plan.removals:
            outcome = removed[f"{action.subject}@{action.host}"]
            outcomes.append(Outcome(action.subject, VERBS["remove"], action.host, outcome.error))

        outcomes.extend(self._release_unused(project, options, prepared))

        subjects = {}
        for action in (a for wave in the_plan.waves for a in wave):
            subjects.setdefault(action.replica.service, []).append(action.subject)

        def depends(action):
            spec = project.service(action.replica.service)
            return [s for dep in direct_dependencies(spec) for s in subjects.get(dep, ())]

        results = run_waves(the_plan.waves, steps.run, lambda a: a.subject, depends, self.max_workers)
        for action in (a for wave in the_plan.waves for a in wave):
            outcomes.append(self.outcome_with(results[action.subject], VERBS[action.kind], action.host))

        if options.start:
            outcomes.extend(write_blocks(self, project, list(steps.live.values())))
        return RunReport(tuple(outcomes))

    def _release_unused(self, project: Project, options: PlanOptions, prepared: _Prepared) -> List[Outcome]:
        """Release addresses reserved for replicas that are no longer wanted and never got a container.

        A run that failed before creating ``web_3`` leaves its address reserved for it; once ``web_3`` is
        scaled away (or its service is gone, with remove_orphans) nothing else would ever release it.
        """
        selected = selected_services(project, options)
        wanted = set(prepared.placement.replicas)
        held = {c.replica for c in prepared.observed}
        outcomes = []
        for replica, allocation in sorted(self.project_allocations(project.name).items()):
            gone = replica.service not in project.service_names
            if replica in wanted or replica in held or allocation.host in prepared.down:
                continue
            if not (replica.service in selected or (gone and options.remove_orphans)):
                continue
            subject = f"{replica.service}_{replica.index}"
            try:
                self.step(subject, "Releasing", allocation.host or "-", allocation.ip,
                          lambda r=replica: self.ipam_call("release_owner", r.owner))
                outcomes.append(Outcome(subject, "Releasing", allocation.host))
            except NapComposeError as exc:
                outcomes.append(Outcome(subject, "Releasing", allocation.host, str(exc)))
        return outcomes

    def scale(self, project: Project, scales: Mapping[str, int],
              timeout: Optional[float] = None) -> RunReport:
        """``up`` of the named services only, at the given scales; other services are left as they run."""
        options = PlanOptions(services=tuple(sorted(scales)), no_deps=True)
        return self.up(project, options, scales, timeout)

    # ------------------------------------------------------------------ hosts files
    def _live(self, project: Project) -> Tuple[List[ObservedContainer], List[Outcome]]:
        containers, statuses = self.scan(project.name)
        failures = [Outcome(s.host, "Observing", s.host, s.error) for s in statuses if not s.reachable]
        return containers, failures

    def hosts_check(self, project: Project) -> List[HostsDrift]:
        """Every running container whose hosts file does not hold exactly its block."""
        containers, failures = self._live(project)
        for failure in failures:
            self.reporter.warning(f"cannot check {failure.host}: {failure.error}")
        return check_blocks(self, project, containers)

    def hosts_sync(self, project: Project) -> RunReport:
        """Rewrite every block that differs; unreachable hosts are reported."""
        containers, failures = self._live(project)
        return RunReport(tuple(failures) + tuple(write_blocks(self, project, containers)))
