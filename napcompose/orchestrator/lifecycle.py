"""Operations on containers that already exist: down, stop, start, restart, rm.

Stops go in reverse dependency waves (consumers first), starts in dependency waves. A container on
a host that does not answer is never assumed gone: its address stays reserved and the host is reported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Union

from napcompose.errors import NapComposeError, UsageError
from napcompose.executor import run_waves
from napcompose.graph import start_waves, stop_waves
from napcompose.model import ObservedContainer, Outcome, Project, RunReport
from napcompose.orchestrator.base import label
from napcompose.orchestrator.hosts import write_blocks
from napcompose.orchestrator.ship import remove_files
from napcompose.planner import direct_dependencies


def _key(container: ObservedContainer) -> str:
    return f"{label(container.replica)}@{container.host}"


class Lifecycle:
    """Mixed into the Orchestrator; relies on Core's ports and helpers."""

    # ------------------------------------------------------------------ helpers
    def _of_services(self, project: Project, services: Sequence[str]):
        for name in services:
            if name not in project.service_names:
                raise UsageError(f"no such service: {name}")
        containers, statuses = self.scan(project.name)
        chosen = set(services or project.service_names)
        mine = [c for c in containers if c.replica is not None and not c.one_off
                and c.replica.service in chosen]
        failures = [Outcome(s.host, "Observing", s.host, s.error) for s in statuses if not s.reachable]
        return containers, mine, failures

    @staticmethod
    def _waves(waves_of_services, containers) -> List[List[ObservedContainer]]:
        grouped = []
        for wave in waves_of_services:
            names = set(wave)
            items = sorted((c for c in containers if c.replica.service in names),
                           key=lambda c: (c.replica, c.host))
            if items:
                grouped.append(items)
        return grouped

    def _each(self, waves, verb: str, work: Callable[[ObservedContainer], None],
              depends: Callable[[ObservedContainer], Sequence[str]] = lambda c: ()) -> List[Outcome]:
        def run(container):
            self.step(label(container.replica), verb, container.host, container.ip, lambda: work(container))

        results = run_waves(waves, run, _key, depends, self.max_workers)
        return [self.outcome_with(Outcome(label(c.replica), error=results[_key(c)].error,
                                          skipped=results[_key(c)].skipped), verb, c.host)
                for wave in waves for c in wave]

    def _stop(self, container: ObservedContainer, timeout: Optional[float]) -> None:
        if container.state in ("running", "restarting", "paused"):
            self.engines[container.host].stop_container(container.id, timeout)

    def _started_depends(self, project: Project, containers):
        keys: Dict[str, List[str]] = {}
        for c in containers:
            keys.setdefault(c.replica.service, []).append(_key(c))
        return lambda c: [k for dep in direct_dependencies(project.service(c.replica.service))
                          for k in keys.get(dep, ())]

    # ------------------------------------------------------------------ down
    def down(self, project_name_or_project: Union[str, Project], remove_orphans: bool = False,
             timeout: Optional[float] = None) -> RunReport:
        """Stop and remove the project's containers in reverse waves, then release their addresses."""
        project = project_name_or_project if isinstance(project_name_or_project, Project) else None
        name = project.name if project else project_name_or_project
        containers, statuses = self.scan(name)
        down = {s.host: s.error or "unreachable" for s in statuses if not s.reachable}
        outcomes = [Outcome(h, "Observing", h, e) for h, e in sorted(down.items())]
        mine = [c for c in containers if c.replica is not None]
        if project is not None:
            orphans = [c for c in mine if c.replica.service not in project.service_names]
            if orphans and not remove_orphans:
                for orphan in orphans:
                    self.reporter.warning(f"found orphan container {orphan.name} on {orphan.host}; "
                                          "pass --remove-orphans to remove it")
            targets = [c for c in mine if c not in orphans or remove_orphans]
            waves = ([sorted((c for c in targets if c in orphans), key=lambda c: (c.replica, c.host))]
                     + self._waves(stop_waves(project), targets))
            waves = [w for w in waves if w]
        else:
            targets = mine
            waves = [targets] if targets else []

        def remove(container):
            self._stop(container, timeout)
            self.engines[container.host].remove_container(container.id)

        removed = self._each(waves, "Removing", remove)
        outcomes.extend(removed)
        gone_keys = {(o.subject, o.host) for o in removed if o.ok}
        remaining = {c.replica for c in mine if (label(c.replica), c.host) not in gone_keys}
        outcomes.extend(self._release(name, remaining, down))
        kept = {c.host for c in containers if c.replica is None or (label(c.replica), c.host) not in gone_keys}
        outcomes.extend(remove_files(self, name, kept, down))  # shipped copies, where nothing of it is left
        return RunReport(tuple(outcomes))

    def _release(self, name: str, remaining, down: Dict[str, str]) -> List[Outcome]:
        """Release every address of the project that no remaining container holds; keep unreachable hosts'."""
        outcomes = []
        for replica, allocation in sorted(self.project_allocations(name).items()):
            subject = label(replica)
            if replica in remaining:
                continue
            if allocation.host in down:
                self.reporter.warning(f"{allocation.host} did not answer: the address {allocation.ip} "
                                      f"of {subject} stays reserved")
                outcomes.append(Outcome(subject, "Releasing", allocation.host,
                                        f"{allocation.host} did not answer; {allocation.ip} stays reserved"))
                continue
            try:
                self.step(subject, "Releasing", allocation.host or "-", allocation.ip,
                          lambda r=replica: self.ipam_call("release_owner", r.owner))
            except NapComposeError as exc:
                outcomes.append(Outcome(subject, "Releasing", allocation.host, str(exc)))
                continue
            outcomes.append(Outcome(subject, "Releasing", allocation.host))
        return outcomes

    # ------------------------------------------------------------------ stop / start / restart / rm
    def stop(self, project: Project, services: Sequence[str] = (),
             timeout: Optional[float] = None) -> RunReport:
        _, mine, failures = self._of_services(project, services)
        running = [c for c in mine if c.state in ("running", "restarting", "paused")]
        waves = self._waves(stop_waves(project), running)
        return RunReport(tuple(failures) + tuple(self._each(waves, "Stopping", lambda c: self._stop(c, timeout))))

    def start(self, project: Project, services: Sequence[str] = (),
              timeout: Optional[float] = None) -> RunReport:
        """Start stopped containers in dependency waves, then rewrite hosts blocks (Docker rebuilt them)."""
        containers, mine, failures = self._of_services(project, services)
        stopped = [c for c in mine if c.state in ("exited", "created")]
        waves = self._waves(start_waves(project), stopped)
        outcomes = self._each(waves, "Starting",
                              lambda c: self.engines[c.host].start_container(c.id),
                              self._started_depends(project, stopped))
        return self._after_start(project, containers, failures, outcomes)

    def restart(self, project: Project, services: Sequence[str] = (),
                timeout: Optional[float] = None) -> RunReport:
        containers, mine, failures = self._of_services(project, services)

        def restart(container):
            self._stop(container, timeout)
            self.engines[container.host].start_container(container.id)

        waves = self._waves(start_waves(project), mine)
        outcomes = self._each(waves, "Restarting", restart, self._started_depends(project, mine))
        return self._after_start(project, containers, failures, outcomes)

    def _after_start(self, project, containers, failures, outcomes) -> RunReport:
        started = {(o.subject, o.host) for o in outcomes if o.ok}
        live = [_running(c) if (label(c.replica), c.host) in started else c
                for c in containers if c.replica is not None]
        return RunReport(tuple(failures) + tuple(outcomes) + tuple(write_blocks(self, project, live)))

    def rm(self, project: Project, services: Sequence[str] = (), stop_first: bool = False,
           force: bool = False) -> RunReport:
        """Remove stopped containers (all of them with ``stop_first``). Addresses stay reserved for ``up``."""
        _, mine, failures = self._of_services(project, services)
        outcomes: List[Outcome] = []
        if stop_first:
            running = [c for c in mine if c.state in ("running", "restarting", "paused")]
            stopped = self._each(self._waves(stop_waves(project), running), "Stopping",
                                 lambda c: self._stop(c, None))
            outcomes.extend(stopped)
            ok = {(o.subject, o.host) for o in stopped if o.ok}
            mine = [_exited(c) if (label(c.replica), c.host) in ok else c for c in mine]
        targets = [c for c in mine if c.state not in ("running", "restarting", "paused")]
        waves = self._waves(stop_waves(project), targets)
        outcomes.extend(self._each(waves, "Removing",
                                   lambda c: self.engines[c.host].remove_container(c.id, force=force)))
        return RunReport(tuple(failures) + tuple(outcomes))


def _running(container: ObservedContainer) -> ObservedContainer:
    return replace(container, state="running")


def _exited(container: ObservedContainer) -> ObservedContainer:
    return replace(container, state="exited")
