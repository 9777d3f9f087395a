"""Free-space hints: one bitmap per block of 256 pool positions, kept beside the address keys.

The address keys are the truth; a bitmap only tells the allocator where a free address is likely,
so that a 90%-full pool still costs about one create per allocation instead of ten blind probes.
A stale bit costs at most one failed create (the bit is then learnt) or hides a free address
until the next rebuild (an exhausted-looking pool always triggers one), never a duplicate. A
release does not clear its bit: the pool is used round before a released address comes back.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

from napcompose.ipam.records import Keys

BLOCK = 256


class BlockHints:
    def __init__(self, store, keys: Keys, size: int, flush_every: int = 64):
        self._store = store
        self._keys = keys
        self.size = size
        self.blocks = (size + BLOCK - 1) // BLOCK
        self._flush_every = flush_every
        self._bits: Dict[int, int] = {}  # block -> used bits as last known here
        self._version: Dict[int, Optional[int]] = {}  # block -> version read (None: key absent)
        self._set: Dict[int, int] = {}  # bits this allocator learnt as used since the last flush
        self._pending = 0

    def block_len(self, block: int) -> int:
        return min(BLOCK, self.size - block * BLOCK)

    def used_bits(self, block: int) -> int:
        """The block's used bits (read from the store the first time, then from memory)."""
        if block not in self._bits:
            self._load(block)
        return self._bits[block]

    def reload(self, block: int) -> None:
        self._load(block)

    def _load(self, block: int) -> None:
        got = self._store.get(self._keys.block(block))
        bits, version = (0, None) if got is None else (_parse(got[0]), got[1])
        self._version[block] = version
        self._bits[block] = bits | self._set.get(block, 0)

    def mark_used(self, index: int) -> None:
        """Only ever set: a released address stays marked until the next rebuild (ledger.py says why)."""
        block, bit = divmod(index, BLOCK)
        mask = 1 << bit
        if block in self._bits:  # an unread block just keeps the change until it is read
            self._bits[block] |= mask
        self._set[block] = self._set.get(block, 0) | mask
        self._pending += 1

    def maybe_flush(self) -> None:
        if self._pending >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Merge what this allocator learnt into the stored bitmaps (compare-and-swap, a few tries)."""
        for block in sorted(self._set):
            self._flush_block(block)
        self._set.clear()
        self._pending = 0

    def _flush_block(self, block: int) -> None:
        add = self._set.get(block, 0)
        if not add:
            return
        key = self._keys.block(block)
        for _ in range(5):
            version = self._version.get(block, "unknown")
            if version == "unknown":
                got = self._store.get(key)
                version = None if got is None else got[1]
                base = 0 if got is None else _parse(got[0])
            else:
                base = self._bits.get(block, 0)
            merged = base | add
            if version is None:
                new_version = self._store.create(key, _format(merged))
            else:
                new_version = self._store.compare_and_swap(key, _format(merged), version)
            if new_version is not None:
                self._bits[block], self._version[block] = merged, new_version
                return
            got = self._store.get(key)  # someone else wrote the block: merge into theirs
            self._version[block] = None if got is None else got[1]
            self._bits[block] = (0 if got is None else _parse(got[0]))
        # Still contended: leave it; the hint is only a hint.

    def rebuild(self, used_indices: Iterable[int]) -> None:
        """Rewrite every block from the true set of used positions (after a full read of the addresses)."""
        want: Dict[int, int] = {b: 0 for b in range(self.blocks)}
        for index in used_indices:
            block, bit = divmod(index, BLOCK)
            want[block] |= 1 << bit
        self._set.clear()
        self._pending = 0
        stored = self._store.list(self._keys.blocks)
        for block, bits in want.items():
            key = self._keys.block(block)
            current: Optional[Tuple[str, int]] = stored.get(key)
            if current is not None and _parse(current[0]) == bits:
                self._bits[block], self._version[block] = bits, current[1]
                continue
            if current is None:
                if not bits:
                    self._bits[block], self._version[block] = 0, None
                    continue
                version = self._store.create(key, _format(bits))
            else:
                version = self._store.compare_and_swap(key, _format(bits), current[1])
            if version is None:
                self._bits.pop(block, None)  # changed meanwhile: read it again when needed
                self._version.pop(block, None)
            else:
                self._bits[block], self._version[block] = bits, version


def _parse(text: str) -> int:
    try:
        return int(text or "0", 16)
    except ValueError:
        return 0  # a damaged hint is treated as empty; creates stay the judge


def _format(bits: int) -> str:
    return format(bits, "x")
