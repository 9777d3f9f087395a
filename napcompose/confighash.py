"""The config hash of a service: what decides whether its containers must be recreated."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from napcompose.model import ServiceSpec

# Fields that never reach a container's configuration: how many replicas there are and where they
# run. Peers' hosts entries are not in the spec at all (they are added to the request), so a scale
# of a linked service never changes a consumer's hash. How an update proceeds is no part of a
# container either: changing it must not start one.
_EXCLUDED = ("scale", "placement", "update", "rollback")


def config_hash(spec: ServiceSpec) -> str:
    """sha256 (hex) of the canonical JSON of ``spec`` without scale, placement and the update settings."""
    data = dataclasses.asdict(spec)
    for name in _EXCLUDED:
        data.pop(name, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
