"""The one executor: runs a Plan's waves, each action by the handler its type picks.

Waves run one after the other; the actions of a wave run in parallel across hosts. An action whose
dependency (``after``) failed or was skipped is skipped, naming it. Failures are collected into the
RunReport, never raised, except a failed Reserve: nothing has changed then, so the run stops with
its error. ``live`` follows the project's containers as each action changes them; the hosts blocks
written last are computed from it.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Optional

from napcompose.errors import NapComposeError
from napcompose.parallel import run_waves
from napcompose.model import Allocation, ObservedContainer, Outcome, Project, Replica, RunReport
from napcompose.orchestrator.base import Core
from napcompose.orchestrator.containers import ContainerHandlers
from napcompose.orchestrator.hosts import write_host
from napcompose.orchestrator.rolling import RollingHandlers
from napcompose.orchestrator.startfirst import StartFirstHandlers
from napcompose.orchestrator.ship import FileHandlers, with_planned_copies
from napcompose.planner import (ACTION_TYPES, Addresses, BuildImage, CopyImage, Create, Keep, Kill, Options,
                                Plan, Recreate, Release, Remove, RemoveFiles, RemovePrevious, Reserve, Restart,
                                RollBack, RollingUpdate, ShipFiles, Start, Stop, WriteHosts, is_previous)


class _Abort(Exception):
    """Carries the error of an action that ends the run (not a NapComposeError, so it is not collected)."""

    def __init__(self, error: NapComposeError):
        super().__init__(str(error))
        self.error = error


class Executor(ContainerHandlers, FileHandlers, RollingHandlers, StartFirstHandlers):
    """Runs one Plan of one project with the Core's ports and the run's Options."""

    def __init__(self, core: Core, project: Project, options: Options, plan: Plan, addresses: Addresses):
        self.core = core
        self.project = with_planned_copies(project, plan)
        self.options = options
        self.plan = plan
        self.down: Dict[str, str] = dict(plan.down)
        self.allocations: Dict[Replica, Allocation] = addresses.by_replica
        self.live: Dict[Replica, ObservedContainer] = {}
        for container in plan.current:
            if not is_previous(container):  # kept for a rollback: not what the replica runs
                self.live.setdefault(container.replica, container)
        self._lock = threading.Lock()
        self._handlers: Dict[type, Callable] = {
            Reserve: self.reserve, Release: self.release, BuildImage: self.build_image,
            CopyImage: self.copy_image, Create: self.create, Recreate: self.recreate, Start: self.start,
            Keep: self.keep, Stop: self.stop, Restart: self.restart, Remove: self.remove, Kill: self.kill,
            WriteHosts: self.write_hosts, ShipFiles: self.ship_files, RemoveFiles: self.remove_files,
            RollingUpdate: self.rolling_update, RollBack: self.roll_back, RemovePrevious: self.remove_previous,
        }
        assert set(self._handlers) == set(ACTION_TYPES), "every action type needs a handler"

    # ------------------------------------------------------------------ running
    def run(self) -> RunReport:
        outcomes: List[Outcome] = [Outcome(host, "Observing", host, reason) for host, reason in self.plan.down]
        for orphan in self.plan.orphans:
            self.core.reporter.warning(f"found orphan container {orphan.name} on {orphan.host} (service "
                                       f"{orphan.replica.service} is not in the project); "
                                       "pass --remove-orphans to remove it")
        try:
            results = run_waves(self.plan.waves, self._run_one, lambda a: a.key, lambda a: a.after,
                                self.core.max_workers)
        except _Abort as abort:
            raise abort.error from None
        for action in self.plan.actions:
            result = results[action.key]
            if result.skipped:
                self.core.reporter.progress(action.subject, action.verb, "skipped",
                                            f"{self.core.detail(action.host, None)} ({result.error})".strip())
            if result.ok and result.value is not None:
                outcomes.extend(result.value)
            else:
                outcomes.append(Outcome(action.subject, action.verb, action.host, result.error, result.skipped))
        return RunReport(tuple(outcomes))

    def _run_one(self, action) -> Optional[List[Outcome]]:
        """The action's handler, picked by its type; returns the outcomes it reports itself, if any."""
        handler = self._handlers[type(action)]
        if isinstance(action, Reserve):
            try:
                return handler(action)
            except NapComposeError as exc:
                raise _Abort(exc) from exc
        if action.host in self.down and not isinstance(action, Release):
            error = self.core.unreachable_error(action.host, self.down[action.host])

            def unreachable():
                raise error

            self.core.step(action.subject, action.verb, action.host, _address_of(action), unreachable)
        return handler(action)

    def set_live(self, replica: Replica, container: Optional[ObservedContainer],
                 only_if: Optional[ObservedContainer] = None) -> None:
        with self._lock:
            if only_if is not None and self.live.get(replica) is not only_if:
                return
            if container is None:
                self.live.pop(replica, None)
            else:
                self.live[replica] = container

    # ------------------------------------------------------------------ addresses
    def reserve(self, action: Reserve) -> List[Outcome]:
        """All entries at once, all or none. No outcome and no terminal line of its own: the address
        shows on each container's line, and a failure here raises before any step."""
        for entry in action.entries:
            self.core.reporter.progress(entry.replica.label, action.verb, "started",
                                        self.core.detail(entry.host, entry.fixed))
        for entry in action.entries:
            if entry.strand is not None:  # the copy left on a lost host keeps its address
                kept = entry.strand
                self.core.book.strand(entry.replica.owner, kept.left_owner, kept.host, kept.ip)
                self.allocations.pop(entry.replica, None)
                self.core.reporter.warning(f"{entry.why}")
        got = self.core.book.ensure_many([(e.replica.owner, e.host, e.fixed) for e in action.entries],
                                         action.vacated)
        for entry, allocation in zip(action.entries, got):
            self.allocations[entry.replica] = allocation
        return []

    def release(self, action: Release) -> None:
        if action.host in self.down and not action.evicted:
            message = f"{action.host} did not answer; {action.ip} stays reserved"
            self.core.reporter.warning(f"{action.host} did not answer: the address {action.ip} "
                                       f"of {action.subject} stays reserved")
            raise NapComposeError(message)
        self.core.step(action.subject, action.verb, action.host or "-", action.ip,
                       lambda: self.core.book.release(action.ip, action.owner) if action.exact else
                       self.core.book.release_owner(action.owner or action.replica.owner))

    # ------------------------------------------------------------------ images
    def _image_port(self):
        if self.core.images is None:
            raise NapComposeError("no way to move images was given to this run")
        return self.core.images

    def build_image(self, action: BuildImage) -> None:
        spec = self.project.service(action.service)
        self.core.step(action.service, action.verb, action.host, None,
                       lambda: self._image_port().build(action.host, spec.build, action.image,
                                                        no_cache=action.no_cache))

    def copy_image(self, action: CopyImage) -> None:
        images = self._image_port()
        detail = f"{action.image} from {action.source} to {action.host}"
        self.core.reporter.progress(action.service, action.verb, "started", detail)
        try:
            wanted = images.image_id(action.source, action.image)
            if wanted is not None and images.image_id(action.host, action.image) == wanted:
                self.core.reporter.progress(action.service, action.verb, "up to date", detail)
                return
            images.copy(action.image, action.source, action.host)
        except NapComposeError:
            self.core.reporter.progress(action.service, action.verb, "error", detail)
            raise
        self.core.reporter.progress(action.service, action.verb, "done", detail)

    # ------------------------------------------------------------------ hosts files
    def write_hosts(self, action: WriteHosts) -> List[Outcome]:
        self.core.reporter.progress(action.subject, action.verb, "started", f"on {action.host}")
        with self._lock:
            live = list(self.live.values())
        return write_host(self.core, self.project, action.host, live)


def _address_of(action) -> Optional[str]:
    if isinstance(action, (Recreate, Start, Keep, Stop, Restart, Remove, Kill)) and action.container:
        return action.container.ip
    return None
