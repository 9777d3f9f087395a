"""How a later compose file (or an extending service) overrides an earlier one, per key.

The rules follow docker-compose 1.29.2: mappings merge by key, link-like lists merge by target,
volumes by container path, a few lists take the union, everything else is replaced.
"""

from __future__ import annotations

from napcompose.errors import ConfigError

_MAPPINGS = ("environment", "labels", "ulimits", "sysctls", "extra_hosts", "storage_opt")
_UNIQUE_LISTS = ("cap_add", "cap_drop", "expose", "external_links", "volumes_from", "device_cgroup_rules",
                 "security_opt")
_STRING_OR_LISTS = ("dns", "dns_search", "env_file", "label_file", "tmpfs")
_NESTED = ("healthcheck", "deploy", "blkio_config", "credential_spec")


def as_mapping(value, sep="="):
    """A list of ``k=v`` strings (or a mapping) as a dict; a bare ``k`` maps to None."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    result = {}
    for item in value:
        key, found, rest = str(item).partition(sep)
        result[key.strip() if sep != "=" else key] = rest if found else None
    return result


def as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, (str, int, float)) else list(value)


def depends_mapping(value):
    if isinstance(value, dict):
        return {k: dict(v or {}) for k, v in value.items()}
    return {name: {"condition": "service_started"} for name in value or ()}


def networks_mapping(value):
    if isinstance(value, dict):
        return {k: v for k, v in value.items()}
    return {name: None for name in value or ()}


def _link_target(item):
    return str(item).split(":", 1)[-1] if ":" in str(item) else str(item)


def _volume_target(item):
    if isinstance(item, dict):
        # A long-form device without a target appears at its source path.
        return item.get("target") or item.get("source")
    parts = str(item).split(":")
    if len(parts) >= 2 and len(parts[0]) == 1 and parts[0].isalpha():  # a Windows drive letter
        parts = [parts[0] + ":" + parts[1]] + parts[2:]
    return parts[1] if len(parts) >= 2 else parts[0]


def _merge_by(base, override, key_of):
    merged = {key_of(item): item for item in as_list(base)}
    merged.update((key_of(item), item) for item in as_list(override))
    return list(merged.values())


def _unique(base, override):
    out = []
    for item in as_list(base) + as_list(override):
        if item not in out:
            out.append(item)
    return out


def _deep(base, override):
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _deep(base[key], value) if key in base else value
    return merged


def _build(value):
    return {"context": value} if isinstance(value, str) else dict(value or {})


def merge_service(base: dict, override: dict) -> dict:
    """Return ``override`` applied over ``base`` (both raw service mappings, already validated)."""
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            merged[key] = value
            continue
        old = base[key]
        if key in _MAPPINGS:
            sep = ":" if key == "extra_hosts" else "="
            merged[key] = {**as_mapping(old, sep), **as_mapping(value, sep)}
        elif key == "depends_on":
            merged[key] = {**depends_mapping(old), **depends_mapping(value)}
        elif key == "networks":
            combined = networks_mapping(old)
            for name, conf in networks_mapping(value).items():
                combined[name] = _deep(combined.get(name) or {}, conf or {}) or None
            merged[key] = combined
        elif key == "links":
            merged[key] = _merge_by(old, value, _link_target)
        elif key in ("volumes", "devices"):
            merged[key] = _merge_by(old, value, _volume_target)
        elif key == "ports":
            merged[key] = _unique(old, value)
        elif key in _UNIQUE_LISTS or key in _STRING_OR_LISTS:
            merged[key] = _unique(old, value)
        elif key in _NESTED:
            merged[key] = _deep(old or {}, value or {})
        elif key == "logging":
            if (old or {}).get("driver") not in (None, (value or {}).get("driver")) and value.get("driver"):
                merged[key] = dict(value)  # another driver: its options start afresh
            else:
                merged[key] = _deep(old or {}, value or {})
        elif key == "build":
            merged[key] = {**_build(old), **_build(value)}
            for sub in ("args", "labels", "extra_hosts"):
                if sub in _build(old) and sub in _build(value):
                    merged[key][sub] = {**as_mapping(_build(old)[sub]), **as_mapping(_build(value)[sub])}
        else:
            merged[key] = value
    return merged


def merge_top(base: dict, override: dict, section: str) -> dict:
    """Merge a top-level section (networks, volumes, ...) entry by entry."""
    merged = dict(base or {})
    for name, conf in (override or {}).items():
        merged[name] = _deep(merged.get(name) or {}, conf or {}) or None
    return merged


def check_extendable(name, raw, filename):
    """An extended service may not point at other services (docker-compose refuses these too)."""
    for key in ("links", "volumes_from", "depends_on"):
        if raw.get(key):
            raise ConfigError(
                f"{filename}: service '{name}' cannot be extended: it has '{key}', which may only be "
                "set in the extending service")
    for key in ("net", "network_mode"):
        mode = raw.get(key)
        if isinstance(mode, str) and mode.startswith(("service:", "container:")):
            raise ConfigError(
                f"{filename}: service '{name}' cannot be extended: its '{key}: {mode}' may only be set "
                "in the extending service")
