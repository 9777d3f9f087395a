"""``deploy.update_config`` and ``deploy.rollback_config``, with defaults from the top-level ``x-nap``.

A service's own keys win over ``x-nap: {update_config: ..., rollback_config: ...}``, key by key;
what neither gives takes the UpdateConfig defaults (parallelism 1, stop-first, pause). Every bad
value is a ConfigError naming the file, line, service (or "top level") and key.
"""

from __future__ import annotations

import math
import re

from napcompose.config import values
from napcompose.config.schema import suggest
from napcompose.config.yamlload import line_of
from napcompose.errors import ConfigError
from napcompose.model import FailureAction, UpdateConfig, UpdateOrder

KEYS = ("parallelism", "delay", "order", "monitor", "failure_action", "max_failure_ratio")
ORDERS = tuple(order.value for order in UpdateOrder)
# A rollback that fails cannot roll back in turn.
ACTIONS = {"update_config": tuple(action.value for action in FailureAction),
           "rollback_config": (FailureAction.CONTINUE.value, FailureAction.PAUSE.value)}


def _fail(where, line, subject, key, message):
    place = f"{re.sub(r':[0-9]+$', '', where)}:{line}" if line else where
    raise ConfigError(f"{place}: {subject}: {key}: {message}")


def _checked(raw, section, prefix, where, subject):
    """The mapping ``raw`` (None: empty) with its keys checked; values parsed by the caller."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        _fail(where, line_of(raw), subject, prefix, f"must be a mapping, not {type(raw).__name__}")
    for key in raw:
        if key not in KEYS:
            _fail(where, line_of(raw, key), subject, f"{prefix}.{key}",
                  f"unknown key{suggest(str(key), KEYS)} ({section} knows {', '.join(KEYS)})")
    return raw


def _parse(raw, section, prefix, where, subject):
    """A dict of UpdateConfig fields from the keys ``raw`` gives."""
    fields = {}

    def fail(key, message):
        _fail(where, line_of(raw, key), subject, f"{prefix}.{key}", message)

    if "parallelism" in raw:
        value = raw["parallelism"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail("parallelism", f"must be an integer >= 0 (0: all at once), not {value!r}")
        fields["parallelism"] = value
    for key, field_name in (("delay", "delay_s"), ("monitor", "monitor_s")):
        if key in raw:
            try:
                seconds = values.duration(raw[key])
            except values.ValueProblem as exc:
                fail(key, str(exc))
            if seconds < 0:
                fail(key, f"must not be negative, not {raw[key]!r}")
            fields[field_name] = seconds
    if "order" in raw:
        value = raw["order"]
        if value not in ORDERS:
            fail("order", f"{value!r} is not one of {', '.join(ORDERS)}{suggest(str(value), ORDERS)}")
        fields["order"] = UpdateOrder(value)
    if "failure_action" in raw:
        value, allowed = raw["failure_action"], ACTIONS[section]
        if value not in allowed:
            fail("failure_action", f"{value!r} is not one of {', '.join(allowed)}{suggest(str(value), allowed)}")
        fields["failure_action"] = FailureAction(value)
    if "max_failure_ratio" in raw:
        value = raw["max_failure_ratio"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value <= 1:
            fail("max_failure_ratio", f"must be a number from 0 to 1, not {value!r}")
        fields["max_failure_ratio"] = float(value)
    return fields


def defaults(top_nap, where):
    """{section: fields} from the top-level x-nap (checked here, so a bad default fails once)."""
    found = {}
    for section in ACTIONS:
        raw = _checked(top_nap.get(section), section, f"x-nap.{section}", where, "top level")
        found[section] = _parse(raw, section, f"x-nap.{section}", where, "top level")
    return found


def service_updates(ctx, raw_service, top_defaults):
    """(update, rollback) UpdateConfig of one service from its ``deploy`` and the x-nap defaults."""
    deploy = raw_service.get("deploy") or {}
    made = []
    for section in ("update_config", "rollback_config"):
        raw = deploy.get(section)
        where = ctx.where(f"deploy.{section}")
        subject = f"service '{ctx.name}'"
        raw = _checked(raw, section, f"deploy.{section}", where, subject)
        fields = dict(top_defaults.get(section, {}))
        given = deploy.get(section) is not None or bool(fields)
        fields.update(_parse(raw, section, f"deploy.{section}", where, subject))
        made.append(UpdateConfig(**fields, given=given))
    return made[0], made[1]
