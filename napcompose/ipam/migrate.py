"""Copy a whole address pool (every key under the store prefix) from one store to another.

Used to move a cluster from one store to another, e.g. from etcd's v2 API to its v3 API, or from the
file store to etcd. The copy is key for key with create-if-absent, into a target that must hold
nothing under the prefix; the target is then read back and compared with the source read before
the copy. Versions are not copied: each store numbers its own writes, and the IPAM only ever
compares a version with one read from the same store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, Tuple

from napcompose.errors import StoreError

Snapshot = Dict[str, Tuple[str, int]]


@dataclass(frozen=True)
class Migration:
    copied: int
    kinds: Tuple[Tuple[str, int], ...]  # (kind, count): addresses, owners, blocks, pool, ...

    def describe(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in self.kinds)


def _kinds(snapshot: Snapshot, prefix: str) -> Tuple[Tuple[str, int], ...]:
    counts = Counter(key[len(prefix):].split("/", 1)[0] or "?" for key in snapshot)
    return tuple(sorted(counts.items()))


def migrate(source, target, prefix: str, source_name: str, target_name: str) -> Migration:
    """Copy every key under ``prefix`` from ``source`` to the empty ``target``; verify; return the counts.

    On a failed verification the keys this copy wrote are deleted again (compare-and-delete on
    the versions it got), so the target is left as empty as it was found.
    """
    under = prefix.rstrip("/") + "/"
    present = target.list(under)
    if present:
        raise StoreError(f"the target store {target_name} is not empty: it holds {len(present)} key(s) under "
                         f"{under} (e.g. {sorted(present)[0]}); migrate only into an empty store or prefix")
    snapshot = source.list(under)
    if not snapshot:
        raise StoreError(f"the store {source_name} holds nothing under {under}: there is no pool to migrate")
    written: Dict[str, int] = {}
    try:
        for key in sorted(snapshot):
            version = target.create(key, snapshot[key][0])
            if version is None:
                raise StoreError(f"{key} appeared in the target store {target_name} during the copy: something "
                                 "else writes there; stop it and migrate again")
            written[key] = version
        problems = _differences(snapshot, target.list(under), "target " + target_name)
        problems += _differences(snapshot, source.list(under), "source " + source_name)
        if problems:
            raise StoreError("the copy does not match: " + "; ".join(problems[:5])
                             + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
                             + "; stop every nap-compose command that writes to the pool and migrate again")
    except BaseException:
        for key, version in written.items():
            try:
                target.compare_and_delete(key, version)
            except StoreError:
                pass  # the error that brought us here is the one to report
        raise
    return Migration(copied=len(written), kinds=_kinds(snapshot, under))


def _differences(expected: Snapshot, found: Snapshot, where: str) -> list:
    out = []
    if len(found) != len(expected):
        out.append(f"the {where} holds {len(found)} key(s), the copy {len(expected)}")
    for key in sorted(set(expected) | set(found)):
        if key not in found:
            out.append(f"{key} is missing from the {where}")
        elif key not in expected:
            out.append(f"{key} appeared in the {where}")
        elif found[key][0] != expected[key][0]:
            out.append(f"{key} differs in the {where}")
    return out
