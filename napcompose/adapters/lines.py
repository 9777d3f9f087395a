"""Lines out of a stream of chunks, in time linear in the bytes.

Appending each chunk to what was pending and splitting the whole again made a 20 MB line without a
newline cost the operator quadratic time (every chunk re-copied and re-scanned all before it). Here
a chunk is scanned once: the pieces of a line that has not ended yet are kept in a list and joined
once, when its newline comes.
"""

from __future__ import annotations

from typing import Iterable, Iterator, List


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Every line of the concatenated ``chunks``, without its newline; a last line without one too."""
    pieces: List[bytes] = []
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if start < len(chunk):
                    pieces.append(chunk[start:])
                break
            pieces.append(chunk[start:end])
            yield b"".join(pieces)
            pieces = []
            start = end + 1
    if pieces:
        yield b"".join(pieces)
