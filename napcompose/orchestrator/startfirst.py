"""One replica of a start-first rolling update: the new copy starts beside the old one, at a new address.

Two containers of one replica run at once, so they cannot share an address. The old copy's address
is handed to the owner ``project/service/N@genG`` (G: its generation), the same kind of owner a copy
left on a lost host gets; the replica's own owner then reserves a new address from the pool, and the
new container (generation G+1, under the replica's name: the old one was renamed ``<name>-previous``)
binds it.
Once the new copy passed the gate, every consumer's hosts block moves to the new address, a drain
lets requests on their way finish, and the old container is stopped and kept, still holding its
address, until every replica of the update passed: then it is removed and its address released. A
rollback starts it again beside the new copy, moves the consumers back once it passed its gate,
then removes the new copy, releases the new address and gives the old one back to the replica.

A new copy that fails (creation or gate) is removed and its address released; the old address goes
back to the replica's owner and the old container gets its name back: it never stopped. If the run
dies in the middle, the next ``up`` sees an old copy older than its replica's current generation
(``superseded``): it removes it and then releases its kept address.
"""

from __future__ import annotations

from dataclasses import replace

from napcompose.errors import HostError, NapComposeError
from napcompose.model import RUNNING_STATES, ObservedContainer
from napcompose.orchestrator.rolling import DRAIN_S
from napcompose.planner import Create
from napcompose.observe.observation import stranded_owner
from napcompose.planner.rolling_actions import RollStep, current_name, previous_name


def left_owner(replica, old: ObservedContainer) -> str:
    """The owner that holds the address of ``replica``'s old copy while a new one runs beside it."""
    return stranded_owner(replica, max(old.generation, 1))


class StartFirstHandlers:
    def _start_first(self, step: RollStep, reason: str, config, gate: str) -> ObservedContainer:
        """Replace ``step``'s replica start-first; the old container, stopped and kept. HostError (old
        copy still serving) when the new one fails."""
        engine, book = self.core.engines[step.host], self.core.book
        old, label, owner = step.container, step.replica.label, step.replica.owner
        generation = max(old.generation, 1)
        left = left_owner(step.replica, old)
        kept = replace(old, name=previous_name(old.name))

        def keep():
            if step.previous is not None:  # kept by an earlier update
                self._remove_kept(step.host, step.replica, step.previous)
            engine.rename_container(old.id, kept.name)
            book.strand(owner, left, step.host, step.address)

        self.core.step(label, "Keeping the old container beside the new one of", step.host, step.address, keep)
        # Until the new copy passed, the old one is what the replica's name and its aliases reach: a
        # neighbour of the same batch that passes first rewrites the blocks from ``live``.
        self.set_live(step.replica, old)
        made = []
        try:
            [allocation] = book.ensure_many([(owner, step.host, None)], None)
            self.allocations[step.replica] = allocation
            create = Create(step.replica, step.host, reason, address=allocation.ip, generation=generation + 1)
            self.core.step(label, "Starting beside the old one", step.host, allocation.ip,
                           lambda: made.append(self._create(create, publish=False)))
            self._gate(step.replica, step.host, config, gate, container=made[0])
        except NapComposeError as exc:
            try:
                self._back_to_old(step, kept, left)
            except NapComposeError as again:
                raise HostError(step.host, f"{label}: the new container failed ({exc}) and the old one could "
                                           f"not take its address {step.address} back ({again})") from exc
            said = str(exc).removeprefix(f"{step.host}: ")
            said = said if said.startswith(f"{label} ") else f"{label}: {said}"
            raise HostError(step.host, f"{said}; the new container was removed and its address "
                                       f"released, the old one still runs at {step.address}") from exc
        # Passed: consumers move to the new address, then the old copy stops; it is kept, with its
        # address, until the whole update passed, so a rollback can still return to it.
        self.set_live(step.replica, replace(made[0], health="healthy"))
        if self._sync_hosts():
            self.core.clock.sleep(DRAIN_S)
        self.core.step(kept.name, "Stopping and keeping", step.host, step.address,
                       lambda: engine.stop_container(old.id, self.options.timeout))
        return replace(kept, state="exited")

    def _back_to_old(self, step: RollStep, kept, left: str) -> None:
        """Remove the failed new copy, release its address, give the old one its address and name back."""
        engine, book = self.core.engines[step.host], self.core.book

        def work():
            # Found by name, not remembered: a creation that failed halfway may still have left one.
            for found in engine.list_containers(step.replica.project):
                if found.name == step.container.name and found.id != step.container.id:
                    engine.remove_container(found.id, force=True)
            book.release_owner(step.replica.owner)
            self.allocations[step.replica] = book.unstrand(left, step.replica.owner, step.host, step.address)
            engine.rename_container(step.container.id, current_name(kept.name))
            self.set_live(step.replica, step.container)

        self.core.step(step.replica.label, "Returning to the old container of", step.host, step.address, work)

    def _restore_beside(self, step, config, gate: str) -> None:
        """Roll ``step``'s replica back to the copy a start-first update kept: it starts at its own
        address beside the new copy, and only once it passed its gate do the consumers move to it
        and the new copy go."""
        engine, book = self.core.engines[step.host], self.core.book
        old, new, label, owner = step.previous, step.current, step.replica.label, step.replica.owner
        left = left_owner(step.replica, old)
        self.core.step(label, "Starting the kept container beside the new one of", step.host, old.ip,
                       lambda: engine.start_container(old.id))
        woken = replace(old, state="running", health=None)
        self._gate(step.replica, step.host, config, gate, container=woken)
        self.set_live(step.replica, replace(woken, name=current_name(old.name), health="healthy"))
        if self._sync_hosts():
            self.core.clock.sleep(DRAIN_S)

        def swap():
            if new.state in RUNNING_STATES:
                engine.stop_container(new.id, self.options.timeout)
            engine.remove_container(new.id, force=True)
            book.release_owner(owner)
            self.allocations[step.replica] = book.unstrand(left, owner, step.host, old.ip)
            engine.rename_container(old.id, current_name(old.name))

        self.core.step(label, "Returning to the kept container of", step.host, old.ip, swap)

    def _remove_kept(self, host: str, replica, kept: ObservedContainer) -> None:
        """Remove a container kept for a rollback; one kept by a start-first update also gives its address
        back to the pool (only when its owner holds that very address: a stop-first copy shares the
        replica's)."""
        self.core.engines[host].remove_container(kept.id, force=True)
        left = left_owner(replica, kept)
        held = self.core.book.lookup(left)
        if held is not None and held.ip == kept.ip:
            self.core.book.release_owner(left)
