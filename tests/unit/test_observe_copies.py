"""observe.copies, what `ps` marks without the planner, agrees with the planner's own rules
(planner.hostloss, planner.rolling_actions) on every mix of copies: generations, states, copies kept
for a rollback, stranded stand-ins, one-off containers."""

import itertools
import random

from napcompose.model import ObservedContainer, Replica
from napcompose.observe import copies
from napcompose.planner import hostloss, rolling_actions

WEB1, WEB2 = Replica("gb", "web", 1), Replica("gb", "web", 2)


def _copy(n, replica, generation, state, previous, one_off, with_id):
    name = (replica.name if replica else f"gb_run_{n}") + ("-previous" if previous else "")
    return ObservedContainer(host=f"node{n % 3 + 1}", id=f"c{n}" if with_id else "", name=name,
                             replica=replica, config_hash=None, state=state, generation=generation,
                             one_off=one_off)


KINDS = list(itertools.product((WEB1, WEB2, None), (1, 2, 3), ("running", "exited", "stranded", "unknown"),
                               (False, True), (False, True), (True, False)))


def test_every_single_copy_is_judged_alike():
    for n, kind in enumerate(KINDS):
        c = _copy(n, *kind)
        assert copies.is_previous(c) == rolling_actions.is_previous(c), c
        assert copies.kept_for_rollback(c) == hostloss.kept_for_rollback(c), c


def test_mixes_of_copies_are_judged_alike():
    rng = random.Random(7)
    marked = 0
    for _ in range(400):
        mix = [_copy(n, *rng.choice(KINDS)) for n in range(rng.randint(1, 6))]
        assert copies.current_generations(mix) == hostloss.current_generations(mix), mix
        assert copies.superseded(mix) == hostloss.superseded(mix), mix
        marked += bool(copies.superseded(mix))
    assert marked > 10  # the mixes do hold superseded copies, not only current ones
