"""Cluster-wide address allocation over a KeyValueStore.

Protocol (see docs/ipam.md):
- ``<prefix>/owners/<owner>`` is the owner's claim, created first and only if absent; it names the
  address the owner holds (or is about to take) and the allocation id of that attempt. Because the
  claim is a create-if-absent, two concurrent ``ensure`` of one owner settle on one claim.
- ``<prefix>/addresses/<ip>`` is the truth: an atomic create-if-absent whose record names the owner,
  host, state, time and allocation id. A create that "failed" but holds our allocation id landed
  earlier (an ambiguous write); it is ours.
- A claim whose address is held by someone else is moved by its writer to the next candidate with a
  compare-and-swap; others only take it over once it is older than ``GRACE_S`` (its writer died).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from napcompose.errors import AddressTakenError, IpamError, NotOwnerError, PoolExhaustedError
from napcompose.ipam.hints import BLOCK, BlockHints
from napcompose.ipam.pool import Pool, definition_differences, parse_address
from napcompose.ipam.records import (Keys, OwnerRecord, check_host, check_owner, dump_allocation,
                                     load_allocation)
from napcompose.model import Allocation

Request = Tuple[str, Optional[str], Optional[str]]


class _Exhausted(Exception):
    def __init__(self, in_use: int):
        self.in_use = in_use


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


class Ipam:
    GRACE_S = 15.0  # a claim younger than this whose address is someone else's is still being moved
    MAX_ROUNDS = 200

    def __init__(self, store, pool: Pool, prefix: str, clock, new_id: Callable[[], str]):
        self._store = store
        self.pool = pool
        self._clock = clock
        self._new_id = new_id
        self._keys = Keys(prefix.rstrip("/"))
        self._hints = BlockHints(store, self._keys, pool.size)
        self._cursor: Optional[int] = None
        self._pool_checked = False

    # ------------------------------------------------------------------ pool record

    def init(self, force: bool = False) -> Tuple[str, List[str]]:
        """Record the pool definition. Returns ("created" | "unchanged" | "replaced", differences)."""
        import json

        wanted = self.pool.definition()
        text = json.dumps(wanted, sort_keys=True)
        got = self._store.get(self._keys.pool)
        if got is None:
            status, diffs = ("created", []) if self._store.create(self._keys.pool, text) is not None else \
                ("unchanged", [])
            if status == "unchanged":  # created by someone else just now: compare with theirs
                return self.init(force)
        else:
            diffs = definition_differences(_load_json(got[0]), wanted)
            if not diffs:
                status = "unchanged"
            elif not force:
                raise IpamError("the store already holds a different address pool: " + "; ".join(diffs)
                                + " (run `nap-compose ipam init --force` to replace it)")
            elif self._store.compare_and_swap(self._keys.pool, text, got[1]) is None:
                raise IpamError("the address pool in the store changed while it was being replaced; run it again")
            else:
                status = "replaced"
        self._pool_checked = True
        self.rebuild_hints()  # block numbering follows the pool, so a new pool needs fresh hints
        return status, diffs

    def _check_pool(self) -> None:
        if self._pool_checked:
            return
        got = self._store.get(self._keys.pool)
        if got is None:
            self.init()  # the first allocation on a fresh store records the pool itself
            return
        diffs = definition_differences(_load_json(got[0]), self.pool.definition())
        if diffs:
            raise IpamError("the address pool in the store differs from the cluster file: " + "; ".join(diffs)
                            + " (run `nap-compose ipam init --force` once the allocations are checked)")
        self._pool_checked = True

    # ------------------------------------------------------------------ allocation

    def ensure(self, owner: str, host: Optional[str], fixed: Optional[str] = None) -> Allocation:
        return self.ensure_many([(owner, host, fixed)])[0]

    def ensure_many(self, requests: Sequence[Request]) -> List[Allocation]:
        """Addresses for every request; on failure what this call newly reserved is released again."""
        checked = self._check_requests(requests)
        self._check_pool()
        results: List[Allocation] = []
        created: List[Allocation] = []
        try:
            for owner, host, fixed in checked:
                alloc, new = self._ensure_one(owner, host, fixed)
                results.append(alloc)
                if new:
                    created.append(alloc)
        except _Exhausted as exc:
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

    def flush(self) -> None:
        """Write the free-space hints learnt so far (they are also written every few allocations)."""
        self._hints.flush()

    def _check_requests(self, requests: Sequence[Request]) -> List[Request]:
        checked: List[Request] = []
        fixed_owner: Dict[str, str] = {}
        for owner, host, fixed in requests:
            owner, host = check_owner(owner), check_host(host)
            if fixed is not None:
                fixed = str(_ip_text(fixed))
                reason = self.pool.why_not(fixed)
                if reason:
                    raise IpamError(f"fixed address {fixed} for {owner} cannot be reserved: it is {reason}")
                if fixed_owner.setdefault(fixed, owner) != owner:
                    raise AddressTakenError(f"fixed address {fixed} is asked for both {fixed_owner[fixed]} "
                                            f"and {owner}")
            checked.append((owner, host, fixed))
        return checked

    def _ensure_one(self, owner: str, host: Optional[str], fixed: Optional[str]) -> Tuple[Allocation, bool]:
        okey = self._keys.owner(owner)
        for _ in range(self.MAX_ROUNDS):
            try:
                ip = fixed or self._candidate()
            except _Exhausted:
                got = self._store.get(okey)  # a full pool still gives an owner its own address back
                if got is None:
                    raise
                result = self._existing(owner, host, okey, OwnerRecord.load(okey, got[0]), got[1], fixed)
                if result is not None:
                    return result
                continue
            rec = OwnerRecord(ip, self._new_id(), self._clock.now())
            version = self._store.create(okey, rec.dump())
            if version is not None:
                alloc = self._claim(owner, host, okey, rec, version, fixed)
                if alloc is not None:
                    return alloc, True
                continue
            got = self._store.get(okey)
            if got is None:
                continue  # released meanwhile: claim again
            result = self._existing(owner, host, okey, OwnerRecord.load(okey, got[0]), got[1], fixed)
            if result is not None:
                return result
        raise IpamError(f"no address settled for {owner} after {self.MAX_ROUNDS} attempts "
                        "(the store is heavily contended); run it again")

    def _claim(self, owner, host, okey, rec: OwnerRecord, version: int, fixed) -> Optional[Allocation]:
        """We hold the claim at ``version``: take its address, or move the claim on. None: claim lost."""
        for _ in range(self.MAX_ROUNDS):
            alloc = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
            akey = self._keys.address(rec.ip)
            index = self.pool.index_of(rec.ip)
            written = self._store.create(akey, dump_allocation(alloc))
            if written is not None:
                if self._outlived(okey, rec, version, akey, written):
                    return None
                self._took(index, fixed)
                return alloc
            got = self._store.get(akey)
            if got is None:
                continue  # released between our create and our read: try the same address again
            current = load_allocation(rec.ip, akey, got[0])
            if current.alloc_id == rec.alloc_id:
                if self._outlived(okey, rec, version, akey, got[1]):
                    return None
                self._took(index, fixed)  # our earlier write landed after all (ambiguous reply)
                return current
            if current.owner == owner:  # the owner's own address under another id: adopt it
                adopted = OwnerRecord(rec.ip, current.alloc_id, current.since)
                if self._store.compare_and_swap(okey, adopted.dump(), version) is None:
                    return None
                self._took(index, fixed)
                return current
            self._hints.mark_used(index)
            if fixed:
                self._store.compare_and_delete(okey, version)
                raise AddressTakenError(_taken(rec.ip, current))
            self._jump()
            rec = OwnerRecord(self._candidate(), self._new_id(), self._clock.now())
            version = self._store.compare_and_swap(okey, rec.dump(), version)
            if version is None:
                return None
        return None

    def _outlived(self, okey: str, rec: OwnerRecord, version: int, akey: str, written: int) -> bool:
        """After a slow claim, make sure nobody took it over meanwhile; if so, undo our address write.

        Others take a claim over only once it is GRACE_S old, so a claim younger than half of that
        (clocks agreeing within GRACE_S / 2) needs no check and costs no round trip. An older one is
        refreshed with a compare-and-swap, which also stops a takeover still in flight.
        """
        if self._clock.now() - rec.since < self.GRACE_S / 2:
            return False
        if self._store.compare_and_swap(okey, replace(rec, since=self._clock.now()).dump(), version) is not None:
            return False
        got = self._store.get(okey)
        named = None if got is None else OwnerRecord.load(okey, got[0])
        if named is not None and (named.ip, named.alloc_id) == (rec.ip, rec.alloc_id) and not named.releasing:
            return False
        self._store.compare_and_delete(akey, written)
        return True

    def _existing(self, owner, host, okey, rec: OwnerRecord, version: int, fixed):
        """The owner has a claim already: return its address, repair it, or wait for it to settle."""
        if rec.releasing:
            self._finish_release(owner, okey, rec, version)
            return None
        if rec.prev_ip:
            self._settle_move(owner, host, okey, rec, version)
            return None
        akey = self._keys.address(rec.ip)
        got = self._store.get(akey)
        current = load_allocation(rec.ip, akey, got[0]) if got else None
        if current is not None and (current.alloc_id == rec.alloc_id or current.owner == owner):
            if current.alloc_id != rec.alloc_id:  # held under an older id: point the claim at it
                self._store.compare_and_swap(okey, OwnerRecord(rec.ip, current.alloc_id, current.since).dump(),
                                             version)
            if fixed and fixed != rec.ip:
                return self._move(owner, host, okey, version, current, got[1], fixed)
            return self._update_host(current, got[1], host), False
        stale = self._clock.now() - rec.since >= self.GRACE_S
        if current is None and self.pool.contains(rec.ip) and fixed in (None, rec.ip):
            # The claim's address was never written (its writer died or is about to write it):
            # write it exactly as the claim says, then make sure the claim did not move meanwhile.
            # The swap of the claim (to a fresh time) also makes any writer that still acts on the
            # claim's old version fail instead of moving it away from the address written here.
            alloc = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
            new_version = self._store.create(akey, dump_allocation(alloc))
            if new_version is None:
                return None
            if self._store.compare_and_swap(okey, replace(rec, since=self._clock.now()).dump(), version) is None:
                self._store.compare_and_delete(akey, new_version)
                return None
            self._hints.mark_used(self.pool.index_of(rec.ip))
            return alloc, True
        if not stale and (current is None or not fixed):
            self._clock.sleep(0.1)  # its writer is about to write its address, or moving it on
            return None
        # A stale claim, or a claim on someone else's address while a fixed one is asked for (its
        # writer cannot take that address any more): take it over.
        ip = fixed or self._candidate()
        new_rec = OwnerRecord(ip, self._new_id(), self._clock.now())
        new_version = self._store.compare_and_swap(okey, new_rec.dump(), version)
        if new_version is None:
            return None
        alloc = self._claim(owner, host, okey, new_rec, new_version, fixed)
        return None if alloc is None else (alloc, True)

    def _move(self, owner, host, okey, version, current: Allocation, current_version: int, fixed: str):
        """The owner holds ``current`` but asks for ``fixed``. The claim first notes the move (both
        addresses), then ``fixed`` is taken, the old address dropped and the note cleared; whoever
        finds the note later finishes the move or rolls it back (``_settle_move``)."""
        alloc = Allocation(fixed, owner, host, "reserved", self._clock.now(), self._new_id())
        note = OwnerRecord(fixed, alloc.alloc_id, alloc.since, prev_ip=current.ip, prev_id=current.alloc_id)
        nversion = self._store.compare_and_swap(okey, note.dump(), version)
        if nversion is None:
            return None
        fkey = self._keys.address(fixed)
        if self._store.create(fkey, dump_allocation(alloc)) is None:
            got = self._store.get(fkey)
            if got is None:
                return None  # the note stays; the next round settles it
            held = load_allocation(fixed, fkey, got[0])
            if held.alloc_id != alloc.alloc_id:
                if held.owner == owner:
                    return None  # held by this owner already: the next round settles the note onto it
                back = OwnerRecord(current.ip, current.alloc_id, self._clock.now())
                self._store.compare_and_swap(okey, back.dump(), nversion)  # roll back to the old address
                raise AddressTakenError(_taken(fixed, held))
        self._hints.mark_used(self.pool.index_of(fixed))
        self._drop_address(current.ip, current.alloc_id)
        self._store.compare_and_swap(okey, OwnerRecord(fixed, alloc.alloc_id, alloc.since).dump(), nversion)
        return alloc, False  # a move is not undone by ensure_many: the old address is gone already

    def _settle_move(self, owner, host, okey, rec: OwnerRecord, version: int) -> None:
        """Finish an interrupted move (the new address is, or can be, the owner's) or roll it back."""
        akey = self._keys.address(rec.ip)
        got = self._store.get(akey)
        held = load_allocation(rec.ip, akey, got[0]) if got else None
        written = None
        if held is None:
            alloc = Allocation(rec.ip, owner, host, "reserved", rec.since, rec.alloc_id)
            written = self._store.create(akey, dump_allocation(alloc))
            if written is None:
                return  # changed meanwhile: look again
            held = alloc
        if held.alloc_id == rec.alloc_id or held.owner == owner:
            # The old address goes before the note: a note left behind is settled again later,
            # an old address left without its note would stay the owner's second address.
            self._drop_address(rec.prev_ip, rec.prev_id)
            done = OwnerRecord(rec.ip, held.alloc_id, held.since)
            if self._store.compare_and_swap(okey, done.dump(), version) is None and written is not None:
                again = self._store.get(okey)
                named = None if again is None else OwnerRecord.load(okey, again[0])
                if named is None or (named.ip, named.alloc_id) != (rec.ip, held.alloc_id):
                    self._store.compare_and_delete(akey, written)  # the claim went on without us
                return
            self._hints.mark_used(self.pool.index_of(rec.ip))
        else:
            self._store.compare_and_swap(okey, OwnerRecord(rec.prev_ip, rec.prev_id, self._clock.now()).dump(),
                                         version)

    def _finish_release(self, owner: str, okey: str, rec: OwnerRecord, version: int) -> None:
        """A release that marked the claim and may have stopped: delete the address, then the claim."""
        akey = self._keys.address(rec.ip)
        got = self._store.get(akey)
        if got is not None and load_allocation(rec.ip, akey, got[0]).owner == owner:
            if self._store.compare_and_delete(akey, got[1]):
                index = self.pool.index_of(rec.ip)
                if index is not None:
                    self._hints.mark_free(index)
        self._store.compare_and_delete(okey, version)

    def _drop_address(self, ip: str, alloc_id: str) -> None:
        """Delete ``ip`` if it still carries ``alloc_id``."""
        akey = self._keys.address(ip)
        got = self._store.get(akey)
        if got is not None and load_allocation(ip, akey, got[0]).alloc_id == alloc_id:
            if self._store.compare_and_delete(akey, got[1]):
                index = self.pool.index_of(ip)
                if index is not None:
                    self._hints.mark_free(index)

    def _update_host(self, current: Allocation, version: int, host: Optional[str]) -> Allocation:
        if host is None or current.host == host:
            return current
        moved = replace(current, host=host)
        if self._store.compare_and_swap(self._keys.address(current.ip), dump_allocation(moved), version) is None:
            return current  # changed meanwhile (bound elsewhere); the address is the same either way
        return moved

    def _took(self, index: Optional[int], fixed) -> None:
        if index is None:
            return
        self._hints.mark_used(index)
        if not fixed:
            self._cursor = (index + 1) % self.pool.size

    def _undo(self, created: Sequence[Allocation]) -> None:
        for alloc in created:
            akey = self._keys.address(alloc.ip)
            got = self._store.get(akey)
            if got is not None and load_allocation(alloc.ip, akey, got[0]).alloc_id == alloc.alloc_id:
                if self._store.compare_and_delete(akey, got[1]) and self.pool.contains(alloc.ip):
                    self._hints.mark_free(self.pool.index_of(alloc.ip))
            self._drop_claim(alloc.owner, alloc.ip)

    def _drop_claim(self, owner: str, ip: str) -> None:
        okey = self._keys.owner(owner)
        got = self._store.get(okey)
        if got is not None and OwnerRecord.load(okey, got[0]).ip == ip:
            self._store.compare_and_delete(okey, got[1])

    # ------------------------------------------------------------------ candidates

    def _jump(self) -> None:
        """Move to a fresh random-looking spot, away from whoever we just collided with."""
        self._cursor = _hash(self._new_id()) % self.pool.size

    def _candidate(self) -> str:
        if self._cursor is None:
            self._jump()
        for attempt in range(2):
            index = self._free_from(self._cursor)
            if index is not None:
                return self.pool.address_at(index)
            used = self.rebuild_hints()  # every hint says full: check the truth once
            if used >= self.pool.size:
                raise _Exhausted(used)
            self._jump()
        raise _Exhausted(self.pool.size)

    def _free_from(self, start: int) -> Optional[int]:
        hints = self._hints
        first_block, first_bit = divmod(start, BLOCK)
        for step in range(hints.blocks + 1):
            block = (first_block + step) % hints.blocks
            length = hints.block_len(block)
            low = first_bit if step == 0 else 0
            high = first_bit if step == hints.blocks else length
            window = ((1 << high) - 1) & ~((1 << low) - 1)
            free = window & ~hints.used_bits(block)
            if free:
                return block * BLOCK + (free & -free).bit_length() - 1
        return None

    def rebuild_hints(self) -> int:
        """Read every address once and rewrite the free-space hints; return how many pool addresses are in use."""
        used = [self.pool.index_of(a.ip) for a in self.allocations()]
        used = [i for i in used if i is not None]
        self._hints.rebuild(used)
        return len(used)

    # ------------------------------------------------------------------ queries and release

    def lookup(self, owner: str) -> Optional[Allocation]:
        found = self._lookup(check_owner(owner))
        return None if found is None else found[0]

    def _lookup(self, owner: str) -> Optional[Tuple[Allocation, int]]:
        okey = self._keys.owner(owner)
        got = self._store.get(okey)
        if got is None:
            return None
        rec = OwnerRecord.load(okey, got[0])
        if rec.releasing:
            return None
        candidates = [(rec.ip, rec.alloc_id)] + ([(rec.prev_ip, rec.prev_id)] if rec.prev_ip else [])
        for ip, alloc_id in candidates:  # during a move the old address still counts until dropped
            akey = self._keys.address(ip)
            held = self._store.get(akey)
            if held is not None:
                current = load_allocation(ip, akey, held[0])
                if current.alloc_id == alloc_id or current.owner == owner:
                    return current, held[1]
        return None

    def holder(self, ip: str) -> Optional[Allocation]:
        """The allocation of ``ip``, or None when it is free."""
        ip = _ip_text(ip)
        akey = self._keys.address(ip)
        got = self._store.get(akey)
        return None if got is None else load_allocation(ip, akey, got[0])

    def allocations(self) -> List[Allocation]:
        prefix = self._keys.addresses
        out = [load_allocation(key[len(prefix):], key, value)
               for key, (value, _) in self._store.list(prefix).items()]
        return sorted(out, key=lambda a: parse_address(a.ip))

    def release(self, ip: str, owner: str) -> None:
        """Release ``ip`` if ``owner`` holds it (compare-and-delete)."""
        owner, ip = check_owner(owner), _ip_text(ip)
        akey = self._keys.address(ip)
        got = self._store.get(akey)
        if got is None:
            raise IpamError(f"address {ip} is not reserved")
        current = load_allocation(ip, akey, got[0])
        if current.owner != owner:
            raise NotOwnerError(f"address {ip} is reserved by {current.owner}, not by {owner}")
        # Mark the claim first: an ensure that finds the address gone must not write it back.
        okey = self._keys.owner(owner)
        claim = self._store.get(okey)
        if claim is not None:
            rec = OwnerRecord.load(okey, claim[0])
            if rec.ip == ip and not rec.releasing:
                if self._store.compare_and_swap(okey, replace(rec, releasing=True).dump(), claim[1]) is None:
                    return self.release(ip, owner)  # the claim changed under us: start over
        for _ in range(self.MAX_ROUNDS):
            current = load_allocation(ip, akey, got[0])
            if current.owner != owner:
                raise NotOwnerError(f"address {ip} is reserved by {current.owner}, not by {owner}")
            if self._store.compare_and_delete(akey, got[1]):
                break
            got = self._store.get(akey)
            if got is None:
                break  # gone: our delete landed though its reply was lost, or the owner released it
        else:
            raise IpamError(f"address {ip} kept changing while being released; run it again")
        # The address goes first: a claim left pointing at a free address is repaired by the next
        # ensure, while an address left without its claim would give its owner a second one.
        self._drop_claim(owner, ip)
        index = self.pool.index_of(ip)
        if index is not None:
            self._hints.mark_free(index)
        self._hints.maybe_flush()

    def release_owner(self, owner: str) -> Optional[Allocation]:
        owner = check_owner(owner)
        okey = self._keys.owner(owner)
        got = self._store.get(okey)
        rec = None if got is None else OwnerRecord.load(okey, got[0])
        if rec is not None and rec.releasing:
            self._finish_release(owner, okey, rec, got[1])
            return None
        if rec is not None and rec.prev_ip:
            self._settle_move(owner, None, okey, rec, got[1])
        found = self._lookup(owner)
        if found is None:
            got = self._store.get(okey)
            if got is not None and self._clock.now() - OwnerRecord.load(okey, got[0]).since >= self.GRACE_S:
                self._store.compare_and_delete(okey, got[1])  # a claim whose writer died before the address
            return None
        self.release(found[0].ip, owner)
        return found[0]

    def mark_bound(self, owner: str, host: str) -> Allocation:
        owner, host = check_owner(owner), check_host(host)
        for _ in range(self.MAX_ROUNDS):
            found = self._lookup(owner)
            if found is None:
                raise IpamError(f"{owner} holds no address to bind")
            current, version = found
            bound = replace(current, state="bound", host=host)
            if self._store.compare_and_swap(self._keys.address(current.ip), dump_allocation(bound),
                                            version) is not None:
                return bound
        raise IpamError(f"the address of {owner} kept changing while being bound; run it again")

    def gc(self, live_owners: Mapping[str, Set[str]], unreachable_hosts: Set[str]) -> List[Allocation]:
        """What can be released (nothing is released here), sorted by address:

        - allocations whose container is gone from a reachable, observed host;
        - strays: addresses their owner's claim does not name (left by a writer that stalled past
          the grace period and then wrote), older than the grace period. No ensure returned them.
        """
        everywhere = set().union(*live_owners.values()) if live_owners else set()
        allocations = self.allocations()
        claims = {key: OwnerRecord.load(key, value) for key, (value, _) in
                  self._store.list(self._keys.owner("x")[:-1]).items()}
        now = self._clock.now()
        out = []
        for a in allocations:
            claim = claims.get(self._keys.owner(a.owner))
            named = claim is not None and a.ip in (claim.ip, claim.prev_ip)
            if not named and now - a.since >= self.GRACE_S:
                out.append(a)
            elif (a.host is not None and a.host not in unreachable_hosts and a.host in live_owners
                  and a.owner not in live_owners[a.host] and a.owner not in everywhere):
                out.append(a)
        return out


def _taken(ip: str, holder: Allocation) -> str:
    where = f" on {holder.host}" if holder.host else ""
    return f"address {ip} is already reserved by {holder.owner}{where}"


def _ip_text(text: str) -> str:
    from ipaddress import IPv4Address

    return str(IPv4Address(parse_address(text)))


def _load_json(text: str) -> dict:
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
