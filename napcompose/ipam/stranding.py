"""Keeping the address of a copy left on a lost host, so its replica can take a new one elsewhere.

A host that does not answer may still run its containers (a partition, not a crash), so their
addresses must stay taken. ``strand`` hands the replica's address over to a second owner string
(``project/service/index@genN``, the copy's generation) in state ``stranded``: the address stays on
the lost host's record, and the replica's own owner is free to reserve a NEW address on a live host.
When the lost host answers again, its old copy is removed and only then is the stranded address
released, so no two containers ever hold one address.

Steps, each a conditional write, and safe to repeat after a crash at any point:
1. the claim of the stranded owner, naming the address under a fresh allocation id;
2. the address record: owner, state and allocation id swapped (compare-and-swap on its version);
3. the replica's old claim is dropped (it no longer matches the record, so lookups ignore it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from napcompose.errors import AddressFencedError, IpamError
from napcompose.ipam.records import OwnerRecord, check_host, check_owner
from napcompose.model import Allocation

STRANDED = "stranded"


class Stranding:
    """Mixed into ``Ipam`` (allocator.py): uses its ledger, clock, id source and lookups."""

    def strand(self, owner: str, left_owner: str, host: str, ip: str) -> Allocation:
        """Keep ``owner``'s address ``ip`` on ``host`` for the copy left there, under ``left_owner``.

        Refused (AddressFencedError) when the owner's address is no longer ``ip`` on ``host``: another
        run changed it since this one looked, and the plan is stale. Returns the stranded record.
        """
        owner, left_owner, host = check_owner(owner), check_owner(left_owner), check_host(host)
        if left_owner == owner:
            raise IpamError(f"cannot keep the address of {owner} under its own name")
        for _ in range(self.MAX_ROUNDS):
            found = self._lookup(owner)
            if found is None:
                done = self._lookup(left_owner)
                if done is not None and done[0].ip == ip and done[0].state == STRANDED:
                    self._ledger.drop_claim(owner, ip)  # a run stopped after step 2: finish it
                    return done[0]
                raise AddressFencedError(f"{owner} no longer holds {ip} on {host} (another run changed it "
                                         "since this one looked); run it again")
            current, version = found
            if current.ip != ip or current.host != host:
                raise AddressFencedError(f"address of {owner} is {current.ip} on {current.host or 'no host'} now, "
                                         f"not {ip} on {host} (another run changed it since this one looked); "
                                         "run it again")
            alloc_id = self._stranded_claim(left_owner, ip)
            if alloc_id is None:
                continue
            kept = replace(current, owner=left_owner, state=STRANDED, alloc_id=alloc_id, since=self._clock.now())
            if self._ledger.swap_address(kept, version) is None:
                continue  # the record changed under us: look again
            self._ledger.drop_claim(owner, ip)
            return kept
        raise IpamError(f"the address of {owner} kept changing while being kept for its copy on {host}; "
                        "run it again")

    def unstrand(self, left_owner: str, owner: str, host: str, ip: str) -> Allocation:
        """Give the address ``ip`` kept under ``left_owner`` back to ``owner`` (bound): a start-first
        update whose new copy failed returns the replica to its old copy. ``owner`` must hold nothing
        else (its new address released first). Safe to repeat after a crash at any point."""
        left_owner, owner, host = check_owner(left_owner), check_owner(owner), check_host(host)
        for _ in range(self.MAX_ROUNDS):
            found = self._lookup(left_owner)
            if found is None:
                done = self._lookup(owner)
                if done is not None and done[0].ip == ip:
                    self._ledger.drop_claim(left_owner, ip)  # a run stopped after the swap: finish it
                    return done[0]
                raise AddressFencedError(f"{left_owner} no longer holds {ip} on {host}; run it again")
            current, version = found
            if current.ip != ip or current.host != host:
                raise AddressFencedError(f"address of {left_owner} is {current.ip} on {current.host or 'no host'}, "
                                         f"not {ip} on {host}; run it again")
            alloc_id = self._stranded_claim(owner, ip)
            if alloc_id is None:
                continue
            back = replace(current, owner=owner, state="bound", alloc_id=alloc_id, since=self._clock.now())
            if self._ledger.swap_address(back, version) is None:
                continue
            self._ledger.drop_claim(left_owner, ip)
            return back
        raise IpamError(f"the address {ip} of {left_owner} kept changing while given back to {owner}; run it again")

    def _stranded_claim(self, left_owner: str, ip: str) -> Optional[str]:
        """The allocation id of ``left_owner``'s claim on ``ip``, created when absent (None: look again)."""
        claim = self._ledger.claim(left_owner)
        if claim is not None:
            if claim[0].ip != ip:
                raise IpamError(f"{left_owner} already holds {claim[0].ip}, not {ip}")
            return claim[0].alloc_id
        rec = OwnerRecord(ip, self._new_id(), self._clock.now())
        return rec.alloc_id if self._ledger.create_claim(left_owner, rec) is not None else None
