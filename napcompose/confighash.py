"""The config hash of a service: what decides whether its containers must be recreated."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from napcompose.model import ServiceSpec

# Fields that never reach a container's configuration: how many replicas there are and where they
# run. Peers' hosts entries are not in the spec at all (they are added to the request), so a scale
# of a linked service never changes a consumer's hash. How an update proceeds is no part of a
# container either: changing it must not start one; nor is when its image is pulled (the image
# itself is: a pulled tag is pinned to its digest in ``image`` before hashing).
_EXCLUDED = ("scale", "placement", "update", "rollback", "pull_policy")


def config_hash(spec: ServiceSpec) -> str:
    """sha256 (hex) of the canonical JSON of ``spec`` without scale, placement and the update settings."""
    data = dataclasses.asdict(spec)
    for name in _EXCLUDED:
        data.pop(name, None)
    # A config's or secret's value is hashed on its own first (never written anywhere as it is);
    # where its definition sits in the file does not reach the container.
    for mount in data.get("file_mounts", ()):
        value = mount.pop("data")
        mount.pop("origin", None)
        mount["data_sha256"] = None if value is None else hashlib.sha256(value).hexdigest()
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
