"""The name a top-level network or volume definition gives itself, and whether it is external.

Both sections of a compose file say it the same ways: ``name: x``; ``external: true``, which names
the object by its key; the old ``external: {name: x}``. Pure.
"""

from __future__ import annotations

from typing import Optional, Tuple


def _truthy(value) -> bool:
    return value is True or str(value).lower() == "true"


def declared_name(body) -> Tuple[Optional[str], bool]:
    """(the name the definition ``body`` declares, or None; whether it is external). An external
    definition without a name of its own is named by its key, which the caller supplies."""
    body = body if isinstance(body, dict) else {}
    external = body.get("external")
    legacy = external.get("name") if isinstance(external, dict) else None
    name = body.get("name") or legacy
    return (None if name is None else str(name)), isinstance(external, dict) or _truthy(external)
