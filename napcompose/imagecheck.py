"""Which image each service runs, whether it can be had, and where it is built or copied to. Pure.

No registry is assumed: an image is either on some host already, or built from the service's
``build:`` context on one host and copied to the others through the Docker API (``copy``), or
built on every host (``build-each``). ``copy`` is the default because it measured faster:
bench/bench_images.py, the guestbook's three images onto 3 lab hosts, median of 3 rounds:
cold 11.2 s against 14.9 s, warm (cache hits) 4.5 s against 5.7 s. A copy moves the finished
image once per host; building everywhere repeats the context upload and the layer commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Set, Tuple

from napcompose.errors import ConfigError, UsageError
from napcompose.model import Project, ServiceSpec

COPY = "copy"
BUILD_EACH = "build-each"
STRATEGIES = (COPY, BUILD_EACH)
DEFAULT_STRATEGY = COPY


def image_name(project_name: str, spec: ServiceSpec) -> str:
    """The service's ``image:``, else docker-compose's ``<project>_<service>`` for a built service."""
    return spec.image or f"{project_name}_{spec.name}"


def normal_reference(reference: str) -> str:
    """``redis`` and ``redis:latest`` name the same image; a digest reference is kept as it is."""
    if "@" in reference:
        return reference
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last else reference + ":latest"


def check_images(project: Project, hosts_present: Mapping[str, Set[str]],
                 services: Optional[Iterable[str]] = None) -> None:
    """Raise ConfigError for every selected service whose image is on no host and has no ``build:``.

    ``hosts_present`` maps each host to the image references found on it. Nothing is changed here,
    so a caller that runs this first stops before anything is created.
    """
    wanted = project.service_names if services is None else tuple(services)
    found = {normal_reference(ref) for refs in hosts_present.values() for ref in refs}
    where = ", ".join(sorted(hosts_present)) or "no hosts"
    problems = []
    for name in wanted:
        spec = project.service(name)
        if spec.build is not None:
            continue
        image = image_name(project.name, spec)
        if normal_reference(image) not in found:
            problems.append(f"service {name}: image {image} is on none of the hosts ({where}) "
                            "and the service has no build: section")
    if problems:
        raise ConfigError("\n".join(problems))


def select_services(project: Project, names: Sequence[str]) -> Tuple[Tuple[ServiceSpec, ...], Tuple[str, ...]]:
    """(services to build, services skipped because they use an image) among ``names`` (all if empty).

    Unknown names are a UsageError listing every one of them, before anything is built.
    """
    unknown = [name for name in names if name not in project.service_names]
    if unknown:
        raise UsageError(f"no such service: {', '.join(unknown)} "
                         f"(services in {project.name}: {', '.join(project.service_names)})")
    chosen = [project.service(n) for n in project.service_names if not names or n in names]
    return (tuple(s for s in chosen if s.build is not None),
            tuple(s.name for s in chosen if s.build is None))


@dataclass(frozen=True)
class ImageStep:
    """Build ``image`` on ``host``, or (``source`` set) copy it there from ``source``."""

    service: str
    image: str
    host: str
    source: Optional[str] = None

    @property
    def kind(self) -> str:
        return "build" if self.source is None else "copy"


def build_plan(project: Project, services: Sequence[ServiceSpec], hosts: Sequence[str],
               strategy: str = DEFAULT_STRATEGY) -> Tuple[ImageStep, ...]:
    """The steps that put each built service's image on every host of ``hosts``.

    ``copy``: build on the first host, copy to the rest. ``build-each``: build on every host.
    Host order is kept as given, so the same input gives the same plan.
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown image strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if not hosts:
        raise UsageError("no hosts to put the images on")
    if len(set(hosts)) != len(hosts):
        raise UsageError("a host is named twice: " + ", ".join(hosts))
    steps = []
    for spec in services:
        if spec.build is None:
            raise ConfigError(f"service {spec.name} has no build: section to build its image from")
        image = image_name(project.name, spec)
        if strategy == BUILD_EACH:
            steps.extend(ImageStep(spec.name, image, host) for host in hosts)
        else:
            steps.append(ImageStep(spec.name, image, hosts[0]))
            steps.extend(ImageStep(spec.name, image, host, source=hosts[0]) for host in hosts[1:])
    return tuple(steps)
