"""``nap-compose watch``: the reconciler, in the foreground or as a service.

Several may run (one per machine, say); the one holding the lease leads (``reconcile.lease``), the
others follow and take over when its lease is not renewed. The leader watches every host's container
events and heartbeat (``adapters.event_polls``) and runs a pass (``reconcile.reconciler``: the road
of ``up``) over a kept project when one of its containers starts, stops or dies, when a host is lost
or back, and every ``--every`` seconds. ``--once`` prints the plan each kept project would get now
and changes nothing. Every change of state is one line: leading or not and why, a pass held and why
(a host still suspect, the store unreachable), and what a pass changed.
"""

from __future__ import annotations

import queue
import signal
import threading
from typing import Dict, Optional

from napcompose.adapters.event_polls import HostWatchers
from napcompose.adapters.processes import holder_gone
from napcompose.errors import ExitStatus, HostError, NapComposeError, StoreError, UsageError
from napcompose.lock import ProjectLock
from napcompose.planner import render
from napcompose.reconcile.hosts import DEFAULT_GRACE_S, HostJudge
from napcompose.reconcile.lease import DEFAULT_LEASE_S, Leadership
from napcompose.reconcile.reconciler import Reconciler
from napcompose.reconcile.records import HOST_BACK, HOST_LOST, KeptProjects, LogEntry, ReconcileLog
from napcompose.cli.deploy_wiring import CliReporter
from napcompose.cli.locking import identity
from napcompose.cli.session import session_of

TICK_S = 0.1
DIE_DELAY_S = 0.3  # after a die, a moment for Docker's own restart policy to act first
KEPT_EVERY_S = 2.0
HEARTBEAT_TIMEOUT_S = 2.0  # how often the list of kept projects is read again


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"'{text}' is not a positive number of seconds")
    return value


def register(sub) -> None:
    p = sub.add_parser("watch", help="keep the projects that opted in (up --keep) as declared: replace lost "
                                     "and dead replicas, rewrite names after restarts (one leader at a time)")
    p.add_argument("--once", action="store_true", help="print the plan each kept project would get now; change nothing")
    p.add_argument("--grace", type=_positive, default=DEFAULT_GRACE_S, metavar="SECONDS",
                   help=f"a host unanswered this long while others answer is lost (default {DEFAULT_GRACE_S:g})")
    p.add_argument("--lease", type=_positive, default=DEFAULT_LEASE_S, metavar="SECONDS",
                   help=f"the leader's lease: another takes over this long after it stops (default {DEFAULT_LEASE_S:g})")
    p.add_argument("--every", type=_positive, default=10.0, metavar="SECONDS",
                   help="a pass over every kept project at least this often, events or not (default 10)")
    p.set_defaults(func=cmd_watch)


class _Watch:
    def __init__(self, args, ctx):
        self.ctx = ctx
        self.args = args
        session = session_of(ctx)
        self.session = session
        self.cluster = session.cluster
        self.clock = session.clock
        self.store = session.store
        prefix = self.cluster.store.prefix
        self.kept = KeptProjects(self.store, prefix)
        self.log = ReconcileLog(self.store, prefix)
        self.me = identity(ctx)
        self.by = f"{self.me.user}@{self.me.machine} pid {self.me.pid}"
        self.leadership = Leadership(self.store, prefix, self.me, self.clock, ctx.wiring.new_id, args.lease)
        self.judge = HostJudge([h.name for h in self.cluster.hosts], args.grace, self.clock.now())
        self.reporter = _QuietReporter(ctx)
        self.reconciler = Reconciler(orchestrator_for=self._orchestrator, lock_for=self._lock,
                                     leadership=self.leadership, judge=self.judge, log=self.log, clock=self.clock,
                                     by=self.by, warn=lambda m: self.say(f"WARNING: {m}"))
        self.events: "queue.Queue" = queue.Queue()
        self.stopping = threading.Event()
        self._said: Dict[str, str] = {}
        self._connections = None
        self._engines: Dict[str, object] = {}
        self._silent = frozenset()

    def say(self, line: str, topic: Optional[str] = None) -> None:
        """One line, stamped; with ``topic``, only when it differs from the last line of that topic."""
        if topic is not None:
            if self._said.get(topic) == line:
                return
            self._said[topic] = line
        self.ctx.err(f"{_stamp(self.clock.now())} {line}")

    def _links(self):
        """The connections passes use: kept while every host answers, made anew after a pass that found a
        host down (a connection marks a host it could not reach as down for good) and whenever the
        hosts the heartbeat finds silent change (a call on an old connection to a host cut off waits
        for the long operation timeout; a new one gives up after the short connect timeout)."""
        verdict = self.judge.verdict(self.clock.now())
        silent = frozenset(h for h, _ in verdict.suspect) | frozenset(verdict.lost)
        if silent != self._silent:
            self._drop_links()
            self._silent = silent
        if self._connections is None:
            self._connections = self.ctx.wiring.connections(self.cluster)
            self._engines = {h.name: self.ctx.wiring.engine(h, self._connections) for h in self.cluster.hosts}
        return self._connections, self._engines

    def _drop_links(self) -> None:
        connections, self._connections = self._connections, None
        if connections is not None and hasattr(connections, "close"):
            connections.close()

    def _watcher_link(self, host: str):
        connections = self.ctx.wiring.connections(self.cluster)
        if hasattr(connections, "op_timeout"):  # a heartbeat that hangs is a missed beat: give up soon
            connections.op_timeout = HEARTBEAT_TIMEOUT_S
        engine = self.ctx.wiring.engine(next(h for h in self.cluster.hosts if h.name == host), connections)
        return engine, getattr(connections, "close", lambda: None)

    def _orchestrator(self, fence):
        from napcompose.adapters.docker_config import credentials
        from napcompose.orchestrator import Orchestrator

        connections, engines = self._links()
        # A host judged lost is not asked again by the pass: it fails at once, as it would after the
        # connect timeout, and its replicas move without that wait.
        lost = self.judge.verdict(self.clock.now()).lost
        engines = {h: (_Lost(h, self.args.grace) if h in lost else e) for h, e in engines.items()}
        return Orchestrator(self.cluster, engines, connections.files, self.session.ipam(), self.reporter,
                            self.clock, images=self.ctx.wiring.images(connections, self.reporter),
                            evictions=self.session.evictions(), credentials=credentials(self.ctx.environ),
                            fence=fence, bridge_filter=self.ctx.wiring.bridge_filter(self.cluster, connections))

    def _lock(self, project: str) -> ProjectLock:
        # A deposed leader's lock (it stalled mid-pass) is taken over at once: its every step fails its
        # own fence on the lease, so waiting out that lock would only keep the project unhealed.
        return ProjectLock(self.store, self.cluster.store.prefix, project, self.me, self.clock, self.ctx.wiring.new_id,
                           ttl_s=self.cluster.lock_ttl_s,
                           gone=lambda holder: self.leadership.deposed(holder) or holder_gone(holder))

    # ------------------------------------------------------------------ --once

    def once(self) -> int:
        records = self._records()
        if records is None:
            return ExitStatus.STORE
        if not records:
            self.ctx.out("No project is kept (run `nap-compose up -d --keep` in a project)")
        for name, record in records.items():
            self.ctx.out(f"project {name}:")
            try:
                _, plan = self.reconciler.plan(record)
            except NapComposeError as exc:
                self.ctx.out(f"  cannot plan: {exc}")
                continue
            for host, why in plan.down:
                self.ctx.out(f"  host {host} did not answer ({why}): the watch moves its replicas only once it "
                             f"stays unanswered for {self.args.grace:g} s while other hosts answer")
            for line in render(plan):
                self.ctx.out(f"  {line}")
        return ExitStatus.OK

    def _records(self):
        try:
            found = self.kept.all()
        except StoreError as exc:
            self.say(f"cannot read the kept projects: {exc}; changing nothing", topic="kept")
            return None
        records = {}
        for name, record in found:
            if isinstance(record, NapComposeError):
                self.say(f"WARNING: {record}", topic=f"bad {name}")
            else:
                records[name] = record
        return records

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        watchers = HostWatchers([h.name for h in self.cluster.hosts], self._watcher_link, self.clock,
                                self.events.put, self._answer)
        watchers.start()
        # The lease is renewed on a thread of its own: a pass that waits on a host never lets it lapse.
        leasing = threading.Thread(target=self._keep_lease, name="lease", daemon=True)
        leasing.start()
        guarding = threading.Thread(target=self._guard_links, name="links", daemon=True)
        guarding.start()
        due: Dict[str, float] = {}
        records: Dict[str, object] = {}
        next_kept = next_sweep = 0.0
        was_leading = False
        self.say(f"watching {len(self.cluster.hosts)} host(s); lease {self.args.lease:g} s, "
                 f"host grace {self.args.grace:g} s")
        try:
            while not self.stopping.is_set():
                now = self.clock.now()
                leading = self.leadership.state.leading
                if leading and not was_leading:
                    next_kept = next_sweep = now  # a new leader looks at everything at once
                was_leading = leading
                if now >= next_kept:
                    fresh = self._records()
                    if fresh is not None:
                        for name in fresh:
                            if name not in records:
                                due.setdefault(name, now)
                        records = fresh
                    next_kept = now + KEPT_EVERY_S
                for host, lost in self.judge.changes(now):
                    self._host_changed(host, lost, records, now)
                    for name in records:
                        due[name] = min(due.get(name, now), now)
                self._drain(due, records, now)
                if now >= next_sweep:
                    for name in records:
                        due[name] = min(due.get(name, now), now)
                    next_sweep = now + self.args.every
                if leading:
                    for name in sorted(n for n, t in due.items() if t <= now and n in records):
                        del due[name]
                        try:
                            result = self.reconciler.run_pass(records[name])
                        except Exception as exc:  # a library error through a dropped connection: try again
                            self.say(f"{name}: pass failed: {type(exc).__name__}: {exc}")
                            self._drop_links()
                            due[name] = self.clock.now() + 1.0
                            continue
                        self._tell(result)
                        if result.down:
                            self._drop_links()
                        if result.retry:
                            due[name] = self.clock.now() + 1.0
                self.stopping.wait(TICK_S)
        finally:
            self.stopping.set()
            watchers.stop()
            leasing.join(timeout=self.leadership.renew_every_s + 1)
            self._drop_links()
            self.leadership.resign()
            self.say("stopped; the lease is given back")
        return ExitStatus.OK

    def _guard_links(self) -> None:
        """A host that falls silent has its pass connection closed at once: a pass waiting on it (the
        host was cut off mid-call) fails that call now instead of at the operation timeout, and the
        pass holds or moves on."""
        dropped = set()
        while not self.stopping.wait(0.2):
            verdict = self.judge.verdict(self.clock.now())
            silent = {h for h, _ in verdict.suspect} | set(verdict.lost)
            connections = self._connections
            for host in sorted(silent - dropped):
                if connections is not None and hasattr(connections, "drop"):
                    connections.drop(host)
            dropped = silent

    def _keep_lease(self) -> None:
        while not self.stopping.is_set():
            state = self.leadership.step()
            self.say(f"{state.status}: {state.why}", topic="lease")
            self.stopping.wait(self.leadership.renew_every_s)

    def _answer(self, host: str, ok: bool, now: float, error: str) -> None:
        self.judge.seen(host, ok, now, error)

    def _drain(self, due: Dict[str, float], records, now: float) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            project = event.replica.project if event.replica is not None else None
            if project not in records:
                continue
            when = now + (DIE_DELAY_S if event.action == "die" else 0.0)
            due[project] = min(due.get(project, when), when)

    def _host_changed(self, host: str, lost: bool, records, now: float) -> None:
        if lost:
            error = self.judge.error(host) or "no answer"
            why = f"unanswered for {self.args.grace:g} s while other hosts answer ({error})"
            self.say(f"host {host} lost: {why}")
        else:
            why = "it answers again: its stale copies go, their addresses are released"
            self.say(f"host {host} back: {why}")
        if not self.leadership.state.leading:
            return
        entry = LogEntry(now, HOST_LOST if lost else HOST_BACK, host, why, self.by)
        for name in records:
            try:
                self.log.append(name, [entry])
            except NapComposeError as exc:
                self.say(f"WARNING: cannot write the log of {name}: {exc}")

    def _tell(self, result) -> None:
        for entry in result.entries:
            self.say(f"{result.project}: {entry.kind} {entry.subject} {entry.why}")
        if result.outcome == "done":
            self.say(f"{result.project}: {result.why}", topic=f"pass {result.project}")
        else:
            self.say(f"{result.project}: {result.outcome}: {result.why}", topic=f"pass {result.project}")


class _Lost:
    """The engine of a host judged lost: every call fails at once with HostError naming the verdict."""

    def __init__(self, host: str, grace_s: float):
        self.host = host
        self._why = f"judged lost: unanswered for {grace_s:g} s while other hosts answer"

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise HostError(self.host, self._why)

        return fail


class _QuietReporter(CliReporter):
    """The progress of a pass, without the replicas it keeps as they are (every pass keeps most)."""

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        if action != "Keeping":
            super().progress(subject, action, status, detail)


def _stamp(seconds: float) -> str:
    rest = int(seconds) % 86400
    return f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def cmd_watch(args, ctx) -> int:
    watch = _Watch(args, ctx)
    if args.once:
        return watch.once()

    def stop(signum, frame):
        watch.stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)  # systemd's stop: give the lease back, then end
    try:
        return watch.run()
    except KeyboardInterrupt:
        return ExitStatus.OK
