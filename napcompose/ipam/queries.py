"""The Ipam's reading and releasing side: lookups, listing, release, bind, and what gc may collect.

Mixed into ``Ipam`` (allocator.py), whose ledger, hints, clock and claim repairs it uses; split off
to keep each module to one job and a readable size.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple

from napcompose.errors import AddressFencedError, IpamError, NotOwnerError
from napcompose.ipam.ledger import MALFORMED
from napcompose.ipam.pool import parse_address
from napcompose.ipam.records import OwnerRecord, check_host, check_owner
from napcompose.model import Allocation


class Queries:
    # ------------------------------------------------------------------ queries and release

    def lookup(self, owner: str) -> Optional[Allocation]:
        found = self._lookup(check_owner(owner))
        return None if found is None else found[0]

    def _lookup(self, owner: str) -> Optional[Tuple[Allocation, int]]:
        found = self._ledger.claim(owner)
        if found is None or found[0].releasing:
            return None
        rec = found[0]
        named = [(rec.ip, rec.alloc_id)] + ([(rec.prev_ip, rec.prev_id)] if rec.prev_ip else [])
        for ip, alloc_id in named:  # during a move the old address still counts until dropped
            held = self._ledger.address(ip)
            if held is not None and (held[0].alloc_id == alloc_id or held[0].owner == owner):
                return held
        return None

    def holder(self, ip: str) -> Optional[Allocation]:
        """The allocation of ``ip``, or None when it is free; IpamError when its record cannot be read
        (nobody may release it: it is left for the operator to look at)."""
        ip = ip_text(ip)
        found = self._ledger.address(ip)
        if found is not None and found[0].state == MALFORMED:
            raise IpamError(f"address {ip} is held by a record nap-compose cannot read "
                            f"({self._ledger.address_key(ip)}); check it and remove the key by hand")
        return None if found is None else found[0]

    def allocations(self) -> List[Allocation]:
        return self._ledger.allocations()

    def release(self, ip: str, owner: str) -> None:
        """Release ``ip`` if ``owner`` holds it (compare-and-delete)."""
        owner, ip = check_owner(owner), ip_text(ip)
        for _ in range(self.MAX_ROUNDS):
            found = self._ledger.address(ip)
            if found is None:
                raise IpamError(f"address {ip} is not reserved")
            if found[0].owner != owner:
                raise NotOwnerError(f"address {ip} is reserved by {found[0].owner}, not by {owner}")
            # Mark the claim first: an ensure that finds the address gone must not write it back.
            claim = self._ledger.claim(owner)
            if claim is not None and claim[0].ip == ip and not claim[0].releasing:
                if self._ledger.swap_claim(owner, replace(claim[0], releasing=True), claim[1]) is None:
                    continue  # the claim changed under us: look again
            # The address goes before the claim: a claim left behind is finished by the next
            # ensure, an address left without its claim would give its owner a second one.
            if self._ledger.delete_address(ip, found[1]) or self._ledger.address(ip) is None:
                self._ledger.drop_claim(owner, ip)
                self._hints.flush()  # what this allocator learnt of the pool, for the others
                return
        raise IpamError(f"address {ip} kept changing while being released; run it again")

    def release_owner(self, owner: str) -> Optional[Allocation]:
        owner = check_owner(owner)
        claim = self._ledger.claim(owner)
        if claim is not None and claim[0].releasing:
            self._finish_release(owner, *claim)
            return None
        if claim is not None and claim[0].prev_ip:
            self._settle_move(owner, None, *claim)
        found = self._lookup(owner)
        if found is None:
            claim = self._ledger.claim(owner)
            if claim is not None and self._clock.now() - claim[0].since >= self.GRACE_S:
                self._ledger.delete_claim(owner, claim[1])  # its writer died before writing the address
            return None
        self.release(found[0].ip, owner)
        return found[0]

    def mark_bound(self, owner: str, host: str, generation: int = 1) -> Allocation:
        """Record that the owner's container exists on ``host``; call it before starting the container.

        Refused (AddressFencedError) when the address is recorded on another host: it was moved there
        while this container was being created, so this container must not start.
        """
        owner, host = check_owner(owner), check_host(host)
        for _ in range(self.MAX_ROUNDS):
            found = self._lookup(owner)
            if found is None:
                raise IpamError(f"{owner} holds no address to bind")
            current = found[0]
            if current.host is not None and current.host != host:
                raise AddressFencedError(
                    f"address {current.ip} of {owner} was moved to {current.host} while its container was "
                    f"being created on {host}; that container is not started")
            # the record names the copy bound to it, so a stand-in for it knows its generation
            bound = replace(current, state="bound", host=host, since=self._clock.now(), generation=generation)
            if self._ledger.swap_address(bound, found[1]) is not None:
                return bound
        raise IpamError(f"the address of {owner} kept changing while being bound; run it again")

    def mark_unbound(self, owner: str, host: str, generation: Optional[int] = None) -> Optional[Allocation]:
        """Record that the owner's container on ``host`` is gone; the address stays the owner's.

        A ``reserved`` record may move to another host on a scan that shows its old host without
        the container, while a ``bound`` one must also have been bound well before that scan
        (ipam/fencing.py): unbinding right after a removal lets an ``up`` that places the replica
        elsewhere go on at once. Nothing changes when the record names another host or is gone, nor
        when it is bound to a newer copy than ``generation`` (the removed container was an older copy
        on the same host, such as the old one of a start-first update that a crash left behind: the
        replica's current container still holds the address).
        """
        owner, host = check_owner(owner), check_host(host)
        for _ in range(self.MAX_ROUNDS):
            found = self._lookup(owner)
            if found is None or found[0].host != host or found[0].state != "bound":
                return None if found is None else found[0]
            if generation is not None and found[0].generation > generation:
                return found[0]
            unbound = replace(found[0], state="reserved", since=self._clock.now())
            if self._ledger.swap_address(unbound, found[1]) is not None:
                return unbound
        raise IpamError(f"the address of {owner} kept changing while being unbound; run it again")

    def claims(self) -> Dict[str, OwnerRecord]:
        """Every owner's claim: which address it holds or is taking, as gc reads them. An owner whose
        claim cannot be read is given one naming the addresses it holds (at most two, as in a move):
        without it they would look like strays and be collected under a running container."""
        claims = self._ledger.claims()
        unreadable = {r.owner for r in self._ledger.bad.all() if r.kind == "owner"} - set(claims)
        if unreadable:
            held: Dict[str, List[Allocation]] = {}
            for a in self._ledger.allocations():
                if a.owner in unreadable:
                    held.setdefault(a.owner, []).append(a)
            for owner, (first, *rest) in held.items():
                second = rest[0] if rest else None
                claims[owner] = OwnerRecord(first.ip, first.alloc_id, first.since,
                                            prev_ip=second.ip if second else None,
                                            prev_id=second.alloc_id if second else None)
        return claims

    def gc(self, live_owners: Mapping[str, Set[str]], unreachable_hosts: Set[str]) -> List[Allocation]:
        """What can be released (nothing is released here), sorted by address (``collectable``)."""
        claims = self.claims()
        return collectable(self._ledger.allocations(), claims, live_owners, unreachable_hosts,
                           self._clock.now(), self.GRACE_S)


def collectable(allocations: Iterable[Allocation], claims: Mapping[str, OwnerRecord],
                live_owners: Mapping[str, Set[str]], unreachable_hosts: Set[str], now: float,
                grace_s: float) -> List[Allocation]:
    """Of ``allocations``, what can be released:

    - allocations whose container is gone from a reachable, observed host (an owner running
      on any observed host counts as live; allocations without a host are never collected);
    - strays: addresses their owner's claim does not name, older than the grace period (left
      by a writer that stalled past the grace period and then wrote; no ensure returned them).
    """
    everywhere = set().union(*live_owners.values()) if live_owners else set()
    out = []
    for a in allocations:
        claim = claims.get(a.owner)
        named = claim is not None and a.ip in (claim.ip, claim.prev_ip)
        gone = (a.host is not None and a.host not in unreachable_hosts and a.host in live_owners
                and a.owner not in everywhere)
        if gone or (not named and now - a.since >= grace_s):
            out.append(a)
    return out


def ip_text(text: str) -> str:
    return str(IPv4Address(parse_address(text)))
