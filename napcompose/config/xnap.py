"""The ``x-nap`` extension: nap-compose's own placement settings, at the top level and per service.

Top level: ``x-nap: {strategy: spread|binpack|random, seed: int}`` (and update defaults, see updates.py).
Service: ``x-nap: {strategy, hosts: [...], affinity: [...], anti_affinity: [...], max_per_host: int}``.
"""

from __future__ import annotations

import re

from napcompose.config.schema import suggest
from napcompose.config.yamlload import line_of
from napcompose.errors import ConfigError

STRATEGIES = ("spread", "binpack", "random")
TOP_KEYS = ("strategy", "seed", "update_config", "rollback_config")  # the last two: config/updates.py
SERVICE_KEYS = ("strategy", "hosts", "affinity", "anti_affinity", "max_per_host")


def _fail(where, line, subject, message):
    # ``where`` may already end in ":line"; a line found inside x-nap is more precise.
    place = f"{re.sub(r':[0-9]+$', '', where)}:{line}" if line else where
    raise ConfigError(f"{place}: {subject}: {message}")


def _check_keys(raw, allowed, where, subject):
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        _fail(where, line_of(raw), subject, "x-nap must be a mapping")
    for key in raw:
        if key not in allowed:
            _fail(where, line_of(raw, key), subject,
                  f"x-nap.{key}: unknown key{suggest(key, allowed)} (x-nap knows {', '.join(allowed)})")
    return raw


def _strategy(raw, where, subject):
    value = raw.get("strategy")
    if value is not None and value not in STRATEGIES:
        _fail(where, line_of(raw, "strategy"), subject,
              f"x-nap.strategy: {value!r} is not one of {', '.join(STRATEGIES)}{suggest(value, STRATEGIES)}")
    return value


def _int(raw, key, where, subject, minimum):
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(where, line_of(raw, key), subject, f"x-nap.{key}: must be an integer >= {minimum}, not {value!r}")
    return value


def _names(raw, key, where, subject):
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, line_of(raw, key), subject, f"x-nap.{key}: must be a list of names")
    return tuple(str(v) for v in value)


def top_level(raw, where):
    """(strategy, seed) from the top-level x-nap; defaults spread and 0."""
    raw = _check_keys(raw, TOP_KEYS, where, "top level")
    strategy = _strategy(raw, where, "top level") or "spread"
    seed = _int(raw, "seed", where, "top level", 0) or 0
    return strategy, seed


def service_level(raw, where, service):
    """A dict of PlacementSpec fields from a service's x-nap."""
    subject = f"service '{service}'"
    raw = _check_keys(raw, SERVICE_KEYS, where, subject)
    return {
        "strategy": _strategy(raw, where, subject),
        "hosts": _names(raw, "hosts", where, subject),
        "affinity": _names(raw, "affinity", where, subject),
        "anti_affinity": _names(raw, "anti_affinity", where, subject),
        "max_per_host": _int(raw, "max_per_host", where, subject, 1),
    }
