"""Many allocators at once on a small pool while writes lose their replies: the invariants hold.

Six threads ensure, move to fixed addresses and release thirty owners on a /26 while about one write
in seven is applied but answered as if it had failed (a silent resend: "already exists", "compare
failed") or as a timeout (StoreError). Afterwards every owner asks once more without faults, and
then no owner holds two addresses, apart from strays that ``gc`` reports (an address written by a
writer that stalled past the grace period; no ensure returned it).
"""

import itertools
import json
import random
import threading

import pytest

from napcompose.errors import IpamError, StoreError
from napcompose.ipam import Ipam, Pool
from tests.fakes_engine import FakeClock
from tests.fakes_kv import AtomicMemoryKV, MemoryKV

POOL = Pool.build("198.18.0.0/26", "198.18.0.1", ["198.18.0.0/26"])
OWNERS = [f"p/s/{i}" for i in range(30)]


def storm(seed: int, mode: str, store=MemoryKV):
    rng = random.Random(seed)
    kv = store()
    kv.lose_as, kv.lose_next = mode, 10 ** 9
    kv.lose_if = lambda op, key: rng.random() < 0.15
    clock = FakeClock()  # shared: a worker's waits make the others' claims age, as stalls would
    surprises = []

    def worker(n):
        r = random.Random(seed * 100 + n)
        ids = itertools.count()
        ipam = Ipam(kv, POOL, "/nap", clock, lambda: f"w{n}-{next(ids)}")
        for _ in range(60):
            owner = r.choice(OWNERS)
            try:
                if r.random() < 0.7:
                    fixed = None if r.random() < 0.8 else POOL.address_at(r.randrange(POOL.size))
                    ipam.ensure(owner, f"h{n}", fixed)
                else:
                    ipam.release_owner(owner)
            except (StoreError, IpamError):
                pass  # a lost reply or a taken/exhausted address: allowed outcomes
            except Exception as exc:  # anything else is a bug
                surprises.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    kv.lose_next = 0
    counter = itertools.count()
    settle = Ipam(kv, POOL, "/nap", FakeClock(clock.now() + 3600), lambda: f"s{next(counter)}")
    for owner in OWNERS:
        try:
            settle.ensure(owner, None)
        except IpamError:
            pass  # the pool may be full of strays and settled owners
    records = {k.rsplit("/", 1)[1]: json.loads(v) for k, (v, _) in kv.list("/nap/addresses/").items()}
    strays = {a.ip for a in settle.gc({}, set())}
    held = {}
    for ip, rec in records.items():
        if ip not in strays:
            held.setdefault(rec["owner"], []).append(ip)
    return surprises, {o: ips for o, ips in held.items() if len(ips) > 1}, settle


@pytest.mark.parametrize("store", [MemoryKV, AtomicMemoryKV], ids=["two-writes", "one-transaction"])
@pytest.mark.parametrize("mode", ["resend", "timeout"])
@pytest.mark.parametrize("seed", range(12))
def test_no_owner_ends_with_two_addresses_under_lost_replies(seed, mode, store):
    surprises, doubles, settle = storm(seed, mode, store)
    assert surprises == [] and doubles == {}
    for owner in OWNERS:  # and every owner's lookup agrees with what ensure gives it now
        found = settle.lookup(owner)
        assert found is None or settle.ensure(owner, None).ip == found.ip
