"""The plan of ``build``: each built service's image, built and put on every host of the cluster. Pure.

No registry is assumed: an image is built from the service's ``build:`` context on one host and
copied to the others through the Docker API (``copy``), or built on every host (``build-each``).
``copy`` is the default because it measured faster: bench/bench_images.py, the guestbook's three
images onto 3 lab hosts, median of 3 rounds: cold 11.2 s against 14.9 s, warm (cache hits) 4.5 s
against 5.7 s. A copy moves the finished image once per host; building everywhere repeats the
context upload and the layer commits.

The plan has two waves: every build, then every copy (each waiting for the build it copies). Every
host of the cluster file gets the images, answering or not: a host that cannot be reached fails its
own steps, and the others still get theirs.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from napcompose.errors import ConfigError, UsageError
from napcompose.imagecheck import image_name
from napcompose.model import Project, ServiceSpec
from napcompose.observe.observation import Observation
from napcompose.imageref import parse_image
from napcompose.planner.actions import BuildImage, CopyImage, Plan, PushImage, image_key
from napcompose.planner.options import Options

COPY = "copy"
BUILD_EACH = "build-each"
STRATEGIES = (COPY, BUILD_EACH)
DEFAULT_STRATEGY = COPY


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


def image_steps(project: Project, services: Sequence[ServiceSpec], hosts: Sequence[str],
                strategy: str = DEFAULT_STRATEGY,
                no_cache: bool = False) -> Tuple[Tuple[BuildImage, ...], Tuple[CopyImage, ...]]:
    """(builds, copies) that put each of ``services``' images on every host of ``hosts``.

    ``copy``: build on the first host, copy to the rest. ``build-each``: build on every host.
    Host order is kept as given, so the same input gives the same plan.
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown image strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if not hosts:
        raise UsageError("no hosts to put the images on")
    if len(set(hosts)) != len(hosts):
        raise UsageError("a host is named twice: " + ", ".join(hosts))
    builds: List[BuildImage] = []
    copies: List[CopyImage] = []
    for spec in services:
        if spec.build is None:
            raise ConfigError(f"service {spec.name} has no build: section to build its image from")
        image = image_name(project.name, spec)
        first = hosts[0]
        built_on = hosts if strategy == BUILD_EACH else hosts[:1]
        builds.extend(BuildImage(spec.name, image, host, "build", no_cache=no_cache) for host in built_on)
        if strategy == COPY:
            copies.extend(CopyImage(spec.name, image, first, host, f"built on {first}",
                                    after=(image_key(image, first),)) for host in hosts[1:])
    return tuple(builds), tuple(copies)


def plan_build(project: Project, observation: Observation, options: Options) -> Plan:
    """Build the selected services' images (``options.services``, all if empty) and put them on every
    host of the cluster file, per ``options.image_strategy``; ``options.no_cache`` builds afresh.

    ``options.push`` (``build --push``): build once on the first host and push each image to the
    registry its name says, instead of copying it: ``up`` then has the other hosts pull it."""
    services, _ = select_services(project, options.services)
    hosts = [host.name for host in observation.cluster.hosts]
    if options.push:
        check_pushable(project, services)
        builds, _ = image_steps(project, services, hosts[:1], COPY, options.no_cache)
        pushes = tuple(PushImage(b.service, b.image, b.host, "build --push", after=(b.key,)) for b in builds)
        return Plan(project.name, waves=tuple(wave for wave in (builds, pushes) if wave))
    builds, copies = image_steps(project, services, hosts, options.image_strategy, options.no_cache)
    return Plan(project.name, waves=tuple(wave for wave in (builds, copies) if wave))


def check_pushable(project: Project, services: Sequence[ServiceSpec]) -> None:
    """ConfigError naming every service whose image names no registry to push to (``image:`` unset,
    or without a registry host: nothing is ever pushed to Docker Hub by default)."""
    bad = [s for s in services if s.image is None or parse_image(s.image).registry != s.image.split("/")[0]]
    if bad:
        named = "; ".join(f"service {s.name}: image {image_name(project.name, s)}" for s in bad)
        raise ConfigError(f"{named}: names no registry to push to; write `image: REGISTRY/NAME:TAG` "
                          "(e.g. 198.18.0.254:5000/shop/web:1)")


def plan_push(project: Project, observation: Observation, options: Options) -> Plan:
    """Push the selected built services' images (``options.services``, all if empty), each from the
    first host of the cluster file that holds it; ConfigError when no host answering holds one."""
    services, _ = select_services(project, options.services)
    check_pushable(project, services)
    present = observation.images
    hosts = [host.name for host in observation.cluster.hosts if host.name not in observation.down]
    pushes, missing = [], []
    for spec in services:
        holder = next((h for h in hosts if present.get((h, spec.image))), None)
        if holder is None:
            missing.append(f"service {spec.name}: image {spec.image} is on no host that answers")
        else:
            pushes.append(PushImage(spec.name, spec.image, holder, "push"))
    if missing:
        raise ConfigError("nothing was pushed:\n  " + "\n  ".join(missing) + "\n(build it with `nap-compose build`)")
    return Plan(project.name, waves=(tuple(pushes),) if pushes else (), hosts=observation.hosts)
