"""Which image each service runs, and when two references name the same image. Pure.

Where images are built and copied to is planner work: planner/images.py for ``up``,
planner/build.py for ``build``.
"""

from __future__ import annotations

from napcompose.model import ServiceSpec


def image_name(project_name: str, spec: ServiceSpec) -> str:
    """The service's ``image:``, else docker-compose's ``<project>_<service>`` for a built service."""
    return spec.image or f"{project_name}_{spec.name}"


def normal_reference(reference: str) -> str:
    """``redis`` and ``redis:latest`` name the same image; a digest reference is kept as it is."""
    if "@" in reference:
        return reference
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last else reference + ":latest"
