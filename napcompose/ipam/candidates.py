"""Which free address an allocator tries next: a cursor over the pool, steered by the hints.

Each allocator starts at a position hashed from a fresh random id (so concurrent runs spread over
the pool instead of fighting over its lowest free address), walks on from its last success, and
jumps to a new random position after a collision.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Optional

from napcompose.ipam.hints import BLOCK, BlockHints
from napcompose.ipam.pool import Pool
from napcompose.ipam.records import Keys


class Exhausted(Exception):
    """No free address is left; ``in_use`` counts the pool addresses found taken."""

    def __init__(self, in_use: int):
        super().__init__(in_use)
        self.in_use = in_use


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


class Candidates:
    def __init__(self, store, keys: Keys, pool: Pool, new_id: Callable[[], str]):
        self.pool = pool
        self.hints = BlockHints(store, keys, pool.size)
        self._new_id = new_id
        self._cursor: Optional[int] = None

    def next(self, used_now: Callable[[], Iterable[str]]) -> str:
        """The next address worth trying. ``used_now`` reads every taken address (only called when
        every hint says "full", to decide exhaustion from the truth and rebuild the hints)."""
        if self._cursor is None:
            self.jump()
        for _ in range(2):
            index = self._free_from(self._cursor)
            if index is not None:
                return self.pool.address_at(index)
            in_use = self.rebuild(used_now())
            if in_use >= self.pool.size:
                raise Exhausted(in_use)
            self.jump()
        raise Exhausted(self.pool.size)

    def jump(self) -> None:
        """Move to a fresh random-looking spot, away from whoever we just collided with."""
        self._cursor = _hash(self._new_id()) % self.pool.size

    def took(self, ip: str, walk_on: bool) -> None:
        """``ip`` is ours now; with ``walk_on`` the next candidate is the address after it."""
        index = self.pool.index_of(ip)
        if index is None:
            return
        self.hints.mark_used(index)
        if walk_on:
            self._cursor = (index + 1) % self.pool.size

    def taken(self, ip: str) -> None:
        index = self.pool.index_of(ip)
        if index is not None:
            self.hints.mark_used(index)

    def rebuild(self, used: Iterable[str]) -> int:
        """Rewrite the hints from the taken addresses; return how many of them are in the pool."""
        indices = [i for i in (self.pool.index_of(ip) for ip in used) if i is not None]
        self.hints.rebuild(indices)
        return len(indices)

    def _free_from(self, start: int) -> Optional[int]:
        hints = self.hints
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
