"""One pass over a kept project: the road of ``up`` (observe, plan, execute), fenced by the lease.

A pass loads the project from its keep record, takes the project's lock without waiting (a project
another writer is changing is skipped, never touched), plans ``up`` on what the hosts say now, and
runs that plan only when every host that did not answer is judged lost (``hosts.HostJudge``): a host
that is only suspect holds the pass, so a blip never moves anything. Every step of the run passes
the fence: this reconciler still leads (``lease.Leadership.check``) and still holds the project lock.
What the plan does is told in the project's log (``records.ReconcileLog``) before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Tuple

from napcompose.config.profiles import Selection
from napcompose.config.project import parse_texts
from napcompose.errors import ConfigError, LockLostError, NapComposeError, ProjectLockedError, StoreError
from napcompose.model import Project
from napcompose.planner import Create, Options, Plan, Recreate, Remove, Reserve, RollingUpdate, Start
from napcompose.reconcile.hosts import HostJudge
from napcompose.reconcile.lease import Leadership
from napcompose.reconcile.records import (FAILED, MOVED, REMOVED, REPLACED, STARTED, KeepRecord, LogEntry,
                                          ReconcileLog)


def load_kept(record: KeepRecord, warn: Callable[[str], None] = lambda line: None) -> Project:
    """The project ``up --keep`` loaded, made again from the texts it recorded (no disk is read).
    ConfigError names the record's file when it no longer loads."""
    environ = dict(record.environ)

    def read(path: str) -> str:
        # extends of one of the recorded files reads that text; any other file is not at hand here
        raise ConfigError(f"{path}: not among the files `up --keep` recorded for project {record.project} "
                          "(files named by include: or extends: elsewhere are not kept)")

    project = parse_texts(list(record.files), project_name=record.project, working_dir=record.working_dir,
                          environ=environ, warn=warn, read=read, cwd=record.working_dir, name_given=True,
                          selection=Selection.of(record.profiles, record.services, environ))
    if project.name != record.project:  # the record says which project it keeps: never another
        raise ConfigError(f"the files kept for project {record.project} now load as project {project.name}")
    return project


def options_of(record: KeepRecord) -> Options:
    """What ``up -d`` was asked for when the project opted in."""
    # rolling=False: a replica replaced because it is unhealthy goes at once, without an old copy
    # kept for a rollback (the files are those up ran, so no update is ever rolled out here)
    return Options(scales=record.scales, services=record.services, replace_unhealthy=True, rolling=False)


def describe(plan: Plan, now: float, by: str) -> List[LogEntry]:
    """What ``plan`` changes, one line each, in the words of the log."""
    entries = []
    # the planner's own sentence for a move: "host node2 unreachable: moving api_1 to node3 with ..."
    moves = {r.replica: r.why for a in plan.actions if isinstance(a, Reserve) for r in a.entries if r.moved_from}
    for action in plan.actions:
        if isinstance(action, Create):
            why = moves.get(action.replica)
            entries.append(LogEntry(now, MOVED if why else REPLACED, action.replica.label,
                                    why or f"created on {action.host}: {action.reason}", by))
        elif isinstance(action, Recreate):
            entries.append(LogEntry(now, REPLACED, action.replica.label,
                                    f"recreated on {action.host}: {action.reason}", by))
        elif isinstance(action, Start):
            entries.append(LogEntry(now, STARTED, action.replica.label,
                                    f"on {action.host}, it was {action.reason}", by))
        elif isinstance(action, RollingUpdate):
            entries.extend(LogEntry(now, REPLACED, step.replica.label, f"recreated on {step.host}: {action.reason}", by)
                           for batch in action.batches for step in batch)
        elif isinstance(action, Remove):
            entries.append(LogEntry(now, REMOVED, action.replica.label, f"on {action.host}: {action.reason}", by))
    return entries


@dataclass(frozen=True)
class PassResult:
    """How one pass over one project ended: ``done``, ``held`` (waiting for a verdict), ``skipped``
    (locked by another writer, or not leading), ``failed`` (some steps failed; see ``why``)."""

    project: str
    outcome: str
    why: str
    entries: Tuple[LogEntry, ...] = ()
    retry: bool = False  # worth another pass soon
    down: Tuple[str, ...] = ()  # the hosts that did not answer this pass


class Reconciler:
    """Runs passes for the leader. ``orchestrator_for(fence)`` builds an Orchestrator whose every
    step calls ``fence``; ``lock_for(project)`` a ``lock.ProjectLock`` of that project."""

    def __init__(self, *, orchestrator_for, lock_for, leadership: Leadership, judge: HostJudge,
                 log: ReconcileLog, clock, by: str, warn: Callable[[str], None] = lambda line: None):
        self._orchestrator_for = orchestrator_for
        self._lock_for = lock_for
        self.leadership = leadership
        self.judge = judge
        self.log = log
        self._clock = clock
        self.by = by
        self._warn = warn
        self._told: Dict[str, str] = {}  # project -> the last failure logged, so a lasting one is logged once

    def plan(self, record: KeepRecord) -> Tuple[Project, Plan]:
        """The plan a pass would run now (``watch --once``): nothing is locked or changed."""
        project = load_kept(record, self._warn)
        plan, _ = self._orchestrator_for(lambda: None).plan(project, options_of(record))
        return project, plan

    def run_pass(self, record: KeepRecord) -> PassResult:
        name = record.project
        if not self.leadership.state.leading:
            return PassResult(name, "skipped", f"not leading: {self.leadership.state.why}")
        now = self._clock.now()
        verdict = self.judge.verdict(now)
        if verdict.cut_off:
            return PassResult(name, "held", verdict.why_waiting(self.judge.grace_s), retry=True)
        try:
            project = load_kept(record, self._warn)
        except NapComposeError as exc:
            return self._failed(name, f"cannot load the kept files: {exc}")
        lock = self._lock_for(name)
        try:
            lock.acquire(0.0)
        except ProjectLockedError as exc:
            return PassResult(name, "skipped", str(exc), retry=True)
        except StoreError as exc:
            return PassResult(name, "held", f"cannot take the project's lock: {exc}", retry=True)
        try:
            return self._under_lock(record, project, lock, verdict.lost)
        finally:
            try:
                lock.release()
            except NapComposeError as exc:
                self._warn(f"project {name}: {exc}")

    def _under_lock(self, record: KeepRecord, project: Project, lock, lost: Tuple[str, ...]) -> PassResult:
        name = record.project

        def fence() -> None:
            self.leadership.check()
            lock.check()

        orchestrator = self._orchestrator_for(fence)
        options = options_of(record)
        try:
            fence()
            plan, addresses = orchestrator.plan(project, options)
        except LockLostError as exc:
            return PassResult(name, "skipped", str(exc))
        except StoreError as exc:
            return PassResult(name, "held", f"the store did not answer: {exc}; changing nothing", retry=True)
        except NapComposeError as exc:
            return self._failed(name, f"cannot plan: {exc}")
        # A host that did not answer but is not judged lost yet: moving its replicas now would
        # act on a blip. Wait for the verdict.
        down = tuple(h for h, _ in plan.down)
        waiting = sorted(h for h in down if h not in lost)
        if waiting:
            why = "; ".join(f"{h}: {r}" for h, r in plan.down if h in waiting)
            return PassResult(name, "held", f"waiting for the verdict on {', '.join(waiting)} ({why})", retry=True,
                              down=down)
        restarting = sorted(c.name for c in plan.current if c.state == "restarting")
        if restarting:  # Docker's own restart policy is acting: starting it too would race Docker
            return PassResult(name, "held", f"Docker is restarting {', '.join(restarting)}", retry=True, down=down)
        now = self._clock.now()
        entries = describe(plan, now, self.by)
        try:
            if entries:
                fence()  # the log tells only what a leader is about to do
                self.log.append(name, entries)
            report = orchestrator.execute(project, plan, addresses, options)
        except LockLostError as exc:
            return PassResult(name, "skipped", str(exc), tuple(entries))
        except StoreError as exc:
            return PassResult(name, "held", f"the store did not answer: {exc}; changing nothing", retry=True)
        except NapComposeError as exc:
            return self._failed(name, str(exc), tuple(entries))
        failed = [o for o in report.failed if not (o.action == "Observing" and o.subject in lost)]
        if failed:
            text = "; ".join(f"{o.action} {o.subject}" + (f" on {o.host}" if o.host and o.host != o.subject else "")
                             + f": {o.error or 'skipped'}" for o in failed)
            return replace(self._failed(name, text, tuple(entries)), down=down)
        self._told.pop(name, None)
        return PassResult(name, "done", f"{len(entries)} change(s)" if entries else "as declared", tuple(entries),
                          down=down)

    def _failed(self, name: str, why: str, entries: Tuple[LogEntry, ...] = ()) -> PassResult:
        if self._told.get(name) != why:
            self._told[name] = why
            try:
                self.log.append(name, [LogEntry(self._clock.now(), FAILED, name, why, self.by)])
            except NapComposeError:
                pass  # the terminal line says it anyway
        return PassResult(name, "failed", why, entries, retry=True)
