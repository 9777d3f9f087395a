"""Asking every host of the cluster one read-only question at once, for the commands that only look
(``volumes``, ``ls``, ``top``, ``stats``, ``version``), and printing aligned tables of the answers."""

from __future__ import annotations

from typing import Callable, List, Sequence, Tuple

from napcompose.cli.session import session_of
from napcompose.errors import PartialFailure, without_host
from napcompose.parallel import HostResult, fan_out


def ask_hosts(ctx, question: Callable[[object], object]) -> Tuple[HostResult, ...]:
    """``question(engine)`` on every host's engine at once; one HostResult per host, in cluster order."""
    session = session_of(ctx)
    engines = session.engines
    names = [h.name for h in session.cluster.hosts]
    return fan_out(names, lambda name: question(engines[name]), key=lambda name: name)


def raise_for_silent(results: Sequence[HostResult], what: str) -> None:
    """Hosts that did not answer make the command's exit status PartialFailure's, naming each."""
    down = [(r.key, without_host(r.key, r.error or "failed")) for r in results if not r.ok]
    if down:
        raise PartialFailure(f"{what}: {len(down)} of {len(results)} hosts did not answer; the listing is "
                             "partial", down)


def print_table(ctx, header: Sequence[str], rows: List[Sequence[str]]) -> None:
    """Columns padded to their widest cell, three spaces apart, as ``ps`` prints them."""
    table = [tuple(header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        ctx.out("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
