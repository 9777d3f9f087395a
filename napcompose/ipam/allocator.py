"""Cluster-wide address allocation over a KeyValueStore (the protocol is described in docs/ipam.md).

- ``owners/<owner>`` is the owner's claim, created first and only if absent: it names the address
  the owner holds or is about to take, under the allocation id of that attempt. Two concurrent
  ``ensure`` of one owner therefore settle on one claim.
- ``addresses/<ip>`` is the truth: an atomic create-if-absent naming owner, host, state, time and
  allocation id. A create refused although the record carries our allocation id landed earlier
  (an ambiguous write): it is ours.
- A claim on someone else's address is moved on by its writer (compare-and-swap); others take it
  over only once it is ``GRACE_S`` old. Moves and releases first note themselves in the claim, so
  whoever finds the note finishes (or rolls back) an interrupted one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from napcompose.errors import AddressFencedError, AddressTakenError, IpamError, PoolExhaustedError
from napcompose.ipam.candidates import Candidates, Exhausted
from napcompose.ipam.fencing import Vacated, refusal
from napcompose.ipam.ledger import Ledger
from napcompose.ipam.pool import Pool, definition_differences
from napcompose.ipam.queries import Queries, ip_text as _ip_text
from napcompose.ipam.records import BadRecord, BadRecords, Keys, OwnerRecord, check_host, check_owner
from napcompose.ipam.stranding import Stranding
from napcompose.model import Allocation

Request = Tuple[str, Optional[str], Optional[str]]
Found = Optional[Tuple[Allocation, bool]]  # (allocation, newly reserved) or None: look again


class Ipam(Queries, Stranding):
    GRACE_S = 15.0  # a claim younger than this is still being worked on by its writer
    MAX_ROUNDS = 200

    def __init__(self, store, pool: Pool, prefix: str, clock, new_id: Callable[[], str],
                 bad: Optional[BadRecords] = None):
        """``bad``: where records that cannot be read are reported (each once); they are skipped."""
        self.pool = pool
        self._clock = clock
        self._new_id = new_id
        self._candidates = Candidates(store, Keys(prefix.rstrip("/")), pool, new_id)
        self._hints = self._candidates.hints
        self._ledger = Ledger(store, Keys(prefix.rstrip("/")), bad)
        self._pool_checked = False

    # ------------------------------------------------------------------ pool record

    def init(self, force: bool = False) -> Tuple[str, List[str]]:
        """Record the pool definition. Returns ("created" | "unchanged" | "replaced", differences)."""
        wanted = self.pool.definition()
        found = self._ledger.pool_record()
        if found is None:
            if self._ledger.write_pool_record(wanted, None) is None:
                return self.init(force)  # recorded by someone else just now: compare with theirs
            status, diffs = "created", []
        else:
            diffs = definition_differences(found[0], wanted)
            if not diffs:
                status = "unchanged"
            elif not force:
                raise IpamError("the store already holds a different address pool: " + "; ".join(diffs)
                                + " (run `nap-compose ipam init --force` to replace it)")
            elif self._ledger.write_pool_record(wanted, found[1]) is None:
                raise IpamError("the address pool in the store changed while it was being replaced; run it again")
            else:
                status = "replaced"
        self._pool_checked = True
        self.rebuild_hints()  # block numbering follows the pool, so a new pool needs fresh hints
        return status, diffs

    def _check_pool(self) -> None:
        if self._pool_checked:
            return
        found = self._ledger.pool_record()
        if found is None:
            self.init()  # the first allocation on a fresh store records the pool itself
            return
        diffs = definition_differences(found[0], self.pool.definition())
        if diffs:
            raise IpamError("the address pool in the store differs from the cluster file: " + "; ".join(diffs)
                            + " (run `nap-compose ipam init --force` once the allocations are checked)")
        self._pool_checked = True

    def rebuild_hints(self) -> int:
        """Read every address once and rewrite the free-space hints; return how many are in the pool."""
        return self._candidates.rebuild(self._used())

    def flush(self) -> None:
        """Write the free-space hints learnt so far (they are also written every few allocations)."""
        self._hints.flush()

    def _used(self) -> List[str]:
        return self._ledger.used()

    def bad_records(self) -> List[BadRecord]:
        """Every address and owner record that cannot be read (read now), with what else the command
        came across, by key."""
        self._ledger.read_addresses()
        self._ledger.claims()
        return self._ledger.bad.all()

    def _next(self) -> str:
        return self._candidates.next(self._used)

    # ------------------------------------------------------------------ allocation

    def ensure(self, owner: str, host: Optional[str], fixed: Optional[str] = None,
               vacated: Optional[Vacated] = None) -> Allocation:
        return self.ensure_many([(owner, host, fixed)], vacated)[0]

    def ensure_many(self, requests: Sequence[Request], vacated: Optional[Vacated] = None) -> List[Allocation]:
        """Addresses for every request; on failure what this call newly reserved is released again.

        An owner whose address is recorded on another host keeps it there and the request is refused
        (AddressFencedError), unless ``vacated`` proves its container left that host (ipam/fencing.py).
        """
        checked = self._check_requests(requests)
        self._check_pool()
        results: List[Allocation] = []
        created: List[Allocation] = []
        try:
            for owner, host, fixed in checked:
                alloc, new = self._ensure_one(owner, host, fixed, vacated)
                results.append(alloc)
                if new:
                    created.append(alloc)
        except Exhausted as exc:
            self._undo(created)
            # asked = the new addresses this call needed: those taken, the one that failed, and the
            # remaining requests whose owner holds none yet (looked up only on this rare path)
            rest = checked[len(results) + 1:]
            asked = len(created) + 1 + sum(1 for owner, _, _ in rest if self._lookup(owner) is None)
            raise PoolExhaustedError(
                f"address pool {self.pool.describe()} is exhausted: {self.pool.size} addresses, "
                f"{exc.in_use - len(created)} in use, {asked} asked for") from None
        except IpamError:
            self._undo(created)
            raise
        finally:
            self._hints.flush() if len(checked) > 1 else self._hints.maybe_flush()
        return results

    def _check_requests(self, requests: Sequence[Request]) -> List[Request]:
        checked: List[Request] = []
        fixed_owner: Dict[str, str] = {}
        for owner, host, fixed in requests:
            owner, host = check_owner(owner), check_host(host)
            if fixed is not None:
                fixed = _ip_text(fixed)
                reason = self.pool.why_not(fixed)
                if reason:
                    raise IpamError(f"fixed address {fixed} for {owner} cannot be reserved: it is {reason}")
                if fixed_owner.setdefault(fixed, owner) != owner:
                    raise AddressTakenError(f"fixed address {fixed} is asked for both {fixed_owner[fixed]} "
                                            f"and {owner}")
            checked.append((owner, host, fixed))
        return checked

    def _ensure_one(self, owner: str, host: Optional[str], fixed: Optional[str],
                    vacated: Optional[Vacated] = None) -> Tuple[Allocation, bool]:
        for _ in range(self.MAX_ROUNDS):
            try:
                ip = fixed or self._next()
            except Exhausted:
                found = self._ledger.claim(owner)  # a full pool still gives an owner its own address
                if found is None:
                    raise
                result = self._existing(owner, host, found[0], found[1], fixed, vacated)
            else:
                rec = OwnerRecord(ip, self._new_id(), self._clock.now())
                if self._ledger.atomic:
                    result = self._claim_and_take_at_once(owner, host, rec, fixed, vacated)
                else:
                    result = self._claim_then_take(owner, host, rec, fixed, vacated)
            if result is not None:
                return result
        raise IpamError(f"no address settled for {owner} after {self.MAX_ROUNDS} attempts "
                        "(the store is heavily contended); run it again")

    def _claim_then_take(self, owner, host, rec: OwnerRecord, fixed, vacated: Optional[Vacated]) -> Found:
        """Two writes: the claim (if absent), then its address."""
        version = self._ledger.create_claim(owner, rec)
        if version is not None:
            alloc = self._take(owner, host, rec, version, fixed)
            return None if alloc is None else (alloc, True)
        found = self._ledger.claim(owner)
        return None if found is None else self._existing(owner, host, found[0], found[1], fixed, vacated)

    def _claim_and_take_at_once(self, owner, host, rec: OwnerRecord, fixed, vacated: Optional[Vacated]) -> Found:
        """The claim and its address in one transaction (stores with ``create_all``): one round trip.

        The claim never exists without its address here, so the two-write path's repairs are only
        needed for what such a transaction finds: an existing claim, or a taken address.
        """
        alloc = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
        version = self._ledger.create_claim_and_address(owner, rec, alloc)
        if version is not None:
            if self._outlived(owner, rec, version, version):
                return None
            self._candidates.took(rec.ip, walk_on=not fixed)
            return alloc, True
        found = self._ledger.claim(owner)
        if found is not None:
            return self._existing(owner, host, found[0], found[1], fixed, vacated)
        held = self._ledger.address(rec.ip)
        if held is None or held[0].owner == owner:
            # freed meanwhile, or the owner's own address without a claim (adopted there): two writes
            return self._claim_then_take(owner, host, rec, fixed, vacated)
        self._candidates.taken(rec.ip)
        if fixed:
            raise AddressTakenError(_taken(rec.ip, held[0]))
        self._candidates.jump()
        return None

    def _take(self, owner, host, rec: OwnerRecord, version: int, fixed) -> Optional[Allocation]:
        """We hold the claim at ``version``: take its address, or move the claim on. None: claim lost."""
        for _ in range(self.MAX_ROUNDS):
            alloc = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
            written = self._ledger.create_address(alloc)
            if written is None:
                found = self._ledger.address(rec.ip)
                if found is None:
                    continue  # released between our create and our read: try it again
                current, written = found
                if current.alloc_id != rec.alloc_id and current.owner == owner:
                    # the owner's own address under another id: adopt it
                    adopted = OwnerRecord(rec.ip, current.alloc_id, current.since)
                    version = self._ledger.swap_claim(owner, adopted, version)
                    if version is None:
                        return None
                    rec, alloc = adopted, current
                elif current.alloc_id != rec.alloc_id:
                    self._candidates.taken(rec.ip)
                    if fixed:
                        self._ledger.delete_claim(owner, version)
                        raise AddressTakenError(_taken(rec.ip, current))
                    self._candidates.jump()
                    rec = OwnerRecord(self._next(), self._new_id(), self._clock.now())
                    version = self._ledger.swap_claim(owner, rec, version)
                    if version is None:
                        return None
                    continue
                else:
                    alloc = current  # our earlier write landed after all (ambiguous reply)
            if self._outlived(owner, rec, version, written):
                return None
            self._candidates.took(rec.ip, walk_on=not fixed)
            return alloc
        return None

    def _outlived(self, owner: str, rec: OwnerRecord, version: int, written: int) -> bool:
        """After a slow claim, make sure nobody took it over meanwhile; if so, undo our address write.

        Others take a claim over only once it is GRACE_S old, so a claim younger than half of that
        (clocks agreeing within GRACE_S / 2) needs no check and costs no round trip. An older one is
        refreshed with a compare-and-swap, which also stops a takeover still in flight.
        """
        if self._clock.now() - rec.since < self.GRACE_S / 2:
            return False
        if self._ledger.swap_claim(owner, replace(rec, since=self._clock.now()), version) is not None:
            return False
        found = self._ledger.claim(owner)
        if found is not None and (found[0].ip, found[0].alloc_id) == (rec.ip, rec.alloc_id) \
                and not found[0].releasing:
            return False
        self._ledger.delete_address(rec.ip, written)
        return True

    def _existing(self, owner, host, rec: OwnerRecord, version: int, fixed, vacated=None) -> Found:
        """The owner has a claim already: return its address, repair it, or wait for it to settle."""
        if rec.releasing:
            self._finish_release(owner, rec, version)
            return None
        if rec.prev_ip:
            self._settle_move(owner, host, rec, version)
            return None
        found = self._ledger.address(rec.ip)
        current = found[0] if found else None
        if current is not None and (current.alloc_id == rec.alloc_id or current.owner == owner):
            if current.alloc_id != rec.alloc_id:  # held under an older id: point the claim at it
                self._ledger.swap_claim(owner, OwnerRecord(rec.ip, current.alloc_id, current.since), version)
            if fixed and fixed != rec.ip:
                return self._move(owner, host, version, current, fixed)
            moved = self._update_host(current, found[1], host, vacated)
            return None if moved is None else (moved, False)
        if current is None and self.pool.contains(rec.ip) and fixed in (None, rec.ip):
            # The claim's address was never written (its writer died, or is about to write it):
            # write it exactly as the claim says, then swap the claim to a fresh time. The swap
            # fails if the claim moved meanwhile (undo), and makes a writer still acting on the
            # old version fail instead of moving the claim away from the address written here.
            alloc = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
            written = self._ledger.create_address(alloc)
            if written is None:
                return None
            if self._ledger.swap_claim(owner, replace(rec, since=self._clock.now()), version) is None:
                self._ledger.delete_address(rec.ip, written)
                return None
            self._candidates.taken(rec.ip)
            return alloc, True
        if self._clock.now() - rec.since < self.GRACE_S and (current is None or not fixed):
            self._clock.sleep(0.1)  # its writer is about to write its address, or moving it on
            return None
        # A stale claim, or a claim on someone else's address while a fixed one is asked for (its
        # writer cannot take that address any more): take it over.
        new_rec = OwnerRecord(fixed or self._next(), self._new_id(), self._clock.now())
        new_version = self._ledger.swap_claim(owner, new_rec, version)
        if new_version is None:
            return None
        alloc = self._take(owner, host, new_rec, new_version, fixed)
        return None if alloc is None else (alloc, True)

    def _move(self, owner, host, version: int, current: Allocation, fixed: str) -> Found:
        """The owner holds ``current`` but asks for ``fixed``: note the move in the claim, take
        ``fixed``, drop the old address, clear the note. A note found later is settled."""
        alloc = Allocation(fixed, owner, host, "reserved", self._clock.now(), self._new_id())
        note = OwnerRecord(fixed, alloc.alloc_id, alloc.since, prev_ip=current.ip, prev_id=current.alloc_id)
        noted = self._ledger.swap_claim(owner, note, version)
        if noted is None:
            return None
        if self._ledger.create_address(alloc) is None:
            found = self._ledger.address(fixed)
            if found is None or found[0].owner == owner and found[0].alloc_id != alloc.alloc_id:
                return None  # the note stays; the next round settles it
            if found[0].alloc_id != alloc.alloc_id:
                back = OwnerRecord(current.ip, current.alloc_id, self._clock.now())
                self._ledger.swap_claim(owner, back, noted)  # roll back to the old address
                raise AddressTakenError(_taken(fixed, found[0]))
        self._candidates.taken(fixed)
        self._ledger.drop_address(current.ip, alloc_id=current.alloc_id)
        self._ledger.swap_claim(owner, OwnerRecord(fixed, alloc.alloc_id, alloc.since), noted)
        return alloc, False  # a move is not undone by ensure_many: the old address is gone already

    def _settle_move(self, owner, host, rec: OwnerRecord, version: int) -> None:
        """Finish an interrupted move (the new address is, or can be, the owner's) or roll it back."""
        found = self._ledger.address(rec.ip)
        held = found[0] if found else None
        written = None
        if held is None:
            held = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
            written = self._ledger.create_address(held)
            if written is None:
                return  # changed meanwhile: look again
        if held.alloc_id != rec.alloc_id and held.owner != owner:
            self._ledger.swap_claim(owner, OwnerRecord(rec.prev_ip, rec.prev_id, self._clock.now()), version)
            return
        # The old address goes before the note: a note left behind is settled again later, an old
        # address left without its note would stay the owner's second address.
        self._ledger.drop_address(rec.prev_ip, alloc_id=rec.prev_id)
        done = OwnerRecord(rec.ip, held.alloc_id, held.since)
        if self._ledger.swap_claim(owner, done, version) is None and written is not None:
            again = self._ledger.claim(owner)
            if again is None or (again[0].ip, again[0].alloc_id) != (rec.ip, held.alloc_id):
                self._ledger.delete_address(rec.ip, written)  # the claim went on without us
            return
        self._candidates.taken(rec.ip)

    def _finish_release(self, owner: str, rec: OwnerRecord, version: int) -> None:
        """A release that marked the claim and may have stopped: delete the address, then the claim."""
        self._ledger.drop_address(rec.ip, owner=owner)
        self._ledger.delete_claim(owner, version)

    def _update_host(self, current: Allocation, version: int, host: Optional[str],
                     vacated: Optional[Vacated]) -> Optional[Allocation]:
        """The owner's address on ``host``: unchanged, given its first host, or moved with proof.

        None: the record changed meanwhile, look again (its new state decides).
        """
        if host is None or current.host == host:
            return current
        if current.host is not None:
            why = refusal(current, host, vacated, self.GRACE_S)
            if why is not None:
                raise AddressFencedError(why)
        # Reserved again on the new host: its container there does not exist yet.
        moved = replace(current, host=host, state="reserved", since=self._clock.now())
        if self._ledger.swap_address(moved, version) is None:
            return None
        return moved

    def _undo(self, created: Sequence[Allocation]) -> None:
        for alloc in created:
            self._ledger.drop_address(alloc.ip, alloc_id=alloc.alloc_id)
            self._ledger.drop_claim(alloc.owner, alloc.ip)


def _taken(ip: str, holder: Allocation) -> str:
    where = f" on {holder.host}" if holder.host else ""
    return f"address {ip} is already reserved by {holder.owner}{where}"
