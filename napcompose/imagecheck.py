"""Which image each service runs. Pure.

Where images are built and copied to is planner work: planner/images.py for ``up``,
planner/build.py for ``build``.
"""

from __future__ import annotations

from napcompose.model import ServiceSpec


def image_name(project_name: str, spec: ServiceSpec) -> str:
    """The service's ``image:``, else docker-compose's ``<project>_<service>`` for a built service."""
    return spec.image or f"{project_name}_{spec.name}"

