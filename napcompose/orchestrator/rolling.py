"""The handlers of rolling updates and rollbacks, mixed into the Executor beside ContainerHandlers.

A batch goes like this: every consumer's hosts block moves the link aliases off the batch's
replicas (written in place; a short drain lets requests already on their way finish); each old
container is stopped and renamed ``<name>-previous`` (kept, with its image, config and address);
a new one is created at the same address and must pass the gate (its healthcheck healthy, or
running for ``monitor`` when it has none). When every replica passed, the kept containers are
removed. A failed gate applies ``failure_action``: ``pause`` stops the update (the replicas not
reached stay on the old version), ``rollback`` puts the kept containers of the replicas already
touched back, ``continue`` goes on. The hosts blocks written at the end of the run settle every
alias on the lowest-numbered healthy replica.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

from napcompose.errors import HostError, NapComposeError
from napcompose.parallel import fan_out
from napcompose.model import RUNNING_STATES, FailureAction, ObservedContainer, Outcome, Replica, UpdateConfig
from napcompose.orchestrator.hosts import write_host
from napcompose.planner import Recreate, RemovePrevious, RollBack, RollbackStep, RollingUpdate, RollStep
from napcompose.planner.rolling import has_healthcheck
from napcompose.planner.rolling_actions import current_name, previous_name

DRAIN_S = 1.0  # after an alias moved, before its old replica stops: requests on their way finish
_HOSTS_WRITES = threading.Lock()  # one hosts pass at a time: two updates must not interleave writes


class UpdateFailed(NapComposeError):
    """A rolling update or rollback stopped on a failed gate; the message says what stays where."""


class RollingHandlers:
    # ------------------------------------------------------------------ update
    def rolling_update(self, action: RollingUpdate) -> List[Outcome]:
        config, service = action.config, action.service
        total = len(action.steps)
        failures: List[Tuple[str, str]] = []  # (replica label, error)
        touched: List[Tuple[RollStep, ObservedContainer]] = []  # (step, its kept container)
        guard = threading.Lock()

        def replace_one(step: RollStep) -> None:
            if step.start_first:  # the old copy serves until the new one passed, then stops and is kept
                kept = self._start_first(step, action.reason, config, action.gate)
                with guard:
                    touched.append((step, kept))
                return
            kept = self._keep_old(step)
            with guard:
                touched.append((step, kept))
            try:
                self.core.step(step.replica.label, "Recreating", step.host, step.address,
                               lambda: self._create(Recreate(step.replica, step.host, action.reason,
                                                             address=step.address,
                                                             generation=step.container.generation)))
            except NapComposeError as exc:
                # No new container to judge: the replica must not stay down, the old one runs again.
                with guard:
                    touched.remove((step, kept))
                back = RollbackStep(step.replica, step.host, kept, self._live_of(step.replica, None))
                try:
                    self._restore(back, action.rollback_config, action.gate)
                except NapComposeError as again:
                    raise HostError(step.host, f"{step.replica.label}: the new container failed ({exc}) and "
                                               f"the old one did not come back ({again})") from exc
                raise HostError(step.host, f"{step.replica.label}: the new container failed ({exc}); "
                                           "the old one runs again") from exc
            self._gate(step.replica, step.host, config, action.gate)

        for number, batch in enumerate(action.batches, 1):
            if number > 1 and config.delay_s:
                self.core.clock.sleep(config.delay_s)
            errors = self._batch(service, "Updating", number, len(action.batches), action.gate,
                                 [(s.replica, s.host, None if s.start_first else s.container) for s in batch],
                                 batch, replace_one)
            failures += errors
            if not errors or len(failures) / total <= config.max_failure_ratio or config.failure_action is FailureAction.CONTINUE:
                continue
            said = "; ".join(error for _, error in failures)
            reached = {s.replica for b in action.batches[:number] for s in b}
            untouched = [s.replica.label for s in action.steps if s.replica not in reached]
            if config.failure_action is FailureAction.ROLLBACK:
                steps = [RollbackStep(s.replica, s.host, kept, self._live_of(s.replica, kept))
                         for s, kept in sorted(touched, key=lambda t: t[0].replica)]
                back = self._restore_all(service, steps, action.rollback_config, action.gate)
                raise UpdateFailed(f"update of {service} failed and was rolled back: {said}"
                                   + (f"; the rollback failed too: {'; '.join(e for _, e in back)}" if back else ""))
            stay = ", ".join(untouched) if untouched else "no other replica"
            hint = (f"; `nap-compose rollback {service}` returns the updated replicas to their kept containers"
                    if touched else "")
            raise UpdateFailed(f"update of {service} paused: {said}; {stay} stay on the old version{hint}")
        failed = {label for label, _ in failures}
        self._drop_kept([(s, kept) for s, kept in touched if s.replica.label not in failed])
        if failures:
            why = ("failure_action continue" if config.failure_action is FailureAction.CONTINUE
                   else f"within max_failure_ratio {config.max_failure_ratio:g}")
            raise UpdateFailed(f"update of {service} went on past failures ({why}): "
                               + "; ".join(error for _, error in failures))
        return [Outcome(s.replica.label, "Recreating", s.host) for s in action.steps]

    def _keep_old(self, step: RollStep) -> ObservedContainer:
        """Stop the old container and rename it ``<name>-previous``: kept, with its address, for a rollback."""
        engine = self.core.engines[step.host]
        old = step.container
        kept = replace(old, name=previous_name(old.name), state="exited")

        def work():
            if step.previous is not None:  # kept by an earlier update: this update keeps another
                self._remove_kept(step.host, step.replica, step.previous)
            if old.state in RUNNING_STATES:
                engine.stop_container(old.id, self.options.timeout)
            engine.rename_container(old.id, kept.name)
            self.set_live(step.replica, replace(old, state="exited"))

        self.core.step(step.replica.label, "Keeping the old container of", step.host, step.address, work)
        return kept

    # ------------------------------------------------------------------ rollback
    def roll_back(self, action: RollBack) -> List[Outcome]:
        steps = [s for batch in action.batches for s in batch]
        failures = self._restore_all(action.service, steps, action.config, action.gate)
        if failures:
            raise UpdateFailed(f"rollback of {action.service}: {'; '.join(e for _, e in failures)}")
        return [Outcome(s.replica.label, action.verb, s.host) for s in steps]

    def _restore_all(self, service: str, steps: Sequence[RollbackStep], config: UpdateConfig,
                     gate: str) -> List[Tuple[str, str]]:
        """Every step back to its kept container, ``config.parallelism`` at a time; the failures."""
        size = config.parallelism or len(steps) or 1
        batches = [steps[i:i + size] for i in range(0, len(steps), size)]
        failures: List[Tuple[str, str]] = []
        for number, batch in enumerate(batches, 1):
            if number > 1 and config.delay_s:
                self.core.clock.sleep(config.delay_s)
            errors = self._batch(service, "Rolling back", number, len(batches), gate,
                                 [(s.replica, s.host, None if s.beside else s.current) for s in batch], batch,
                                 lambda s: self._restore(s, config, gate))
            failures += errors
            if errors and config.failure_action is FailureAction.PAUSE:
                break
        return failures

    def _restore(self, step: RollbackStep, config: UpdateConfig, gate: str) -> None:
        if step.beside:
            self._restore_beside(step, config, gate)
            return
        engine = self.core.engines[step.host]
        name = current_name(step.previous.name)

        def work():
            if step.current is not None and step.current.id != step.previous.id:
                if step.current.state in RUNNING_STATES:
                    engine.stop_container(step.current.id, self.options.timeout)
                engine.remove_container(step.current.id, force=True)
            engine.rename_container(step.previous.id, name)
            engine.start_container(step.previous.id)
            self.set_live(step.replica, replace(step.previous, name=name, state="running", health=None))

        self.core.step(step.replica.label, "Restoring", step.host, step.previous.ip, work)
        self._gate(step.replica, step.host, config, gate)

    def remove_previous(self, action: RemovePrevious) -> None:
        self.core.step(action.subject, action.verb, action.host, action.container.ip,
                       lambda: self._remove_kept(action.host, action.replica, action.container))

    # ------------------------------------------------------------------ shared
    def _batch(self, service: str, verb: str, number: int, count: int, gate: str,
               leaving: Sequence[Tuple[Replica, str, Optional[ObservedContainer]]], items,
               work) -> List[Tuple[str, str]]:
        """One batch: aliases off its replicas, then ``work`` on each item in parallel; (label, error) of
        each item that failed."""
        names = ", ".join(f"{replica.label} on {host}" for replica, host, _ in leaving)
        progress = f"{verb} batch {number}/{count} of"
        self.core.reporter.progress(service, progress, "started", f"{names}; waiting for {gate}")
        began = self.core.clock.now()
        self._leave([(replica, container) for replica, _, container in leaving if container is not None])
        results = fan_out(items, work, key=lambda item: item.replica.label, max_workers=self.core.max_workers)
        errors = [(r.key, r.error) for r in results if not r.ok]
        took = f"{names} in {self.core.clock.now() - began:.1f}s"
        self.core.reporter.progress(service, progress, "error" if errors else "done", took)
        return errors

    def _leave(self, pairs: Sequence[Tuple[Replica, ObservedContainer]]) -> None:
        """Move the aliases off replicas about to stop: every consumer's block, in place, then a drain."""
        for replica, container in pairs:
            self.set_live(replica, replace(container, state="stopping"), only_if=self._live_of(replica, container))
        if self._sync_hosts():
            self.core.clock.sleep(DRAIN_S)

    def _live_of(self, replica: Replica, fallback: Optional[ObservedContainer]) -> Optional[ObservedContainer]:
        with self._lock:
            return self.live.get(replica, fallback)

    def _sync_hosts(self) -> bool:
        """Rewrite the blocks that differ on every host that answers; whether any was written."""
        with _HOSTS_WRITES:
            with self._lock:
                live = list(self.live.values())
            hosts = sorted({c.host for c in live if c.state == "running"} - set(self.down))
            results = fan_out(hosts, lambda h: write_host(self.core, self.project, h, live),
                              max_workers=self.core.max_workers)
        written = False
        for result in results:
            for outcome in result.value or ():
                if outcome.error:
                    self.core.reporter.warning(f"hosts file of {outcome.subject} on {outcome.host}: {outcome.error}")
                else:
                    written = True
        return written

    def _gate(self, replica: Replica, host: str, config: UpdateConfig, gate: str,
              container: Optional[ObservedContainer] = None) -> None:
        """Wait for the replica's new container (``container``, else the live one) to pass ``gate``;
        HostError naming replica, host and gate."""
        container = container or self._live_of(replica, None)
        engine = self.core.engines[host]
        spec = self.project.service(replica.service)
        clock = self.core.clock

        def failed(why: str, state: str = "running"):
            self.set_live(replica, replace(container, state=state, health="unhealthy"), only_if=container)
            return HostError(host, f"{replica.label} failed its gate ({gate}): {why}")

        if has_healthcheck(spec):
            deadline = clock.now() + self.core.health_timeout
            while True:
                health = engine.health(container.id)
                if health == "healthy":
                    self.set_live(replica, replace(container, health="healthy"), only_if=container)
                    return
                if health == "unhealthy":
                    raise failed("its healthcheck reports unhealthy")
                state = self._state(engine, container.id)
                if state != "running":  # a crash leaves the health as it was: ask the state too
                    raise failed(f"{state} before its healthcheck passed", state)
                if clock.now() >= deadline:
                    raise failed(f"not healthy within {self.core.health_timeout:g}s (health: {health})")
                clock.sleep(self.core.health_interval)
        deadline = clock.now() + config.monitor_s
        while True:
            state = self._state(engine, container.id)
            if state not in ("running",):
                raise failed(f"{state} within the {config.monitor_s:g}s monitor", state)
            if clock.now() >= deadline:
                return
            clock.sleep(min(self.core.health_interval, max(deadline - clock.now(), 0.0)))

    @staticmethod
    def _state(engine, container_id: str) -> str:
        found = [c for c in engine.list_containers() if c.id == container_id]
        return found[0].state if found else "gone"

    def _drop_kept(self, touched: Sequence[Tuple[RollStep, ObservedContainer]]) -> None:
        """The update passed: the kept containers go (a failure to remove one is only a warning)."""
        def drop(item):
            step, kept = item
            self.core.step(kept.name, "Removing", step.host, kept.ip,
                           lambda: self._remove_kept(step.host, step.replica, kept))

        for result in fan_out(list(touched), drop, key=lambda item: item[1].name, max_workers=self.core.max_workers):
            if not result.ok:
                self.core.reporter.warning(f"could not remove the kept container {result.key}: {result.error}; "
                                           "up --prune-previous removes it later")
