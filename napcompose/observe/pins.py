"""One digest per tag per run: which content each registry image of a run is, asked once before planning.

A service that names a registry image (``image:`` and no ``build:``) runs ``repository@sha256:…``
on every host, never the bare tag, so replicas never run different bits under one tag. The digest
is found once per run, per image:

- ``always``: the registry is asked (through the first host that answers, with the operator's
  credentials, pulling nothing) which digest the tag names now;
- ``missing`` (the default): the digest of the copy a host already holds (the first such host
  in the cluster file's order); when no host holds one, the registry is asked as for ``always``;
- ``never`` (and an image no registry knows: built or loaded on the hosts, so without a digest):
  not pinned, each host runs the tag as it has it, as before registries were used.

The pinned reference goes into the service's ``image`` before planning, so the digest is part of
the config hash: a tag that moved is an update of that service like any other change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from napcompose.errors import HostError, NapComposeError, without_host
from napcompose.imageref import parse_image, repo_digest_of
from napcompose.model import Project, RegistryAuth, ServiceSpec
from napcompose.parallel import fan_out
from napcompose.ports import ContainerEngine

ALWAYS, MISSING, NEVER, BUILD = "always", "missing", "never", "build"
POLICIES = (ALWAYS, MISSING, NEVER, BUILD)
LOCAL = "local"  # a built image: pinned only to the digest a host's copy got when it was pushed
_STRENGTH = {NEVER: 0, MISSING: 1, ALWAYS: 2}

Credentials = Callable[[str], Optional[RegistryAuth]]


@dataclass(frozen=True)
class Pin:
    """What one registry image runs as in this run.

    ``digest`` None: not pinned (``never``, or no digest known anywhere). ``pull``: a host that
    lacks the pinned image may pull it. ``source`` says where the digest came from; ``error`` why
    the registry could not tell, when it was asked and failed (kept for the planner's message).
    """

    image: str
    services: Tuple[str, ...]
    policy: str
    digest: Optional[str] = None
    source: str = ""
    error: str = ""

    @property
    def reference(self) -> str:
        """What the hosts run: ``repository@digest`` when pinned, else the image as written."""
        ref = parse_image(self.image)
        return ref.at(self.digest) if self.digest and not ref.pinned else self.image

    @property
    def pull(self) -> bool:
        return self.digest is not None and self.policy != NEVER


def registry_image(spec: ServiceSpec) -> bool:
    """True for a service whose image comes from a registry: it names one and builds none."""
    return spec.image is not None and spec.build is None


def pushed_build(spec: ServiceSpec) -> bool:
    """True for a built service whose ``image:`` names a registry host: once ``build --push`` sent it
    there, the other hosts pull that digest instead of receiving copies."""
    if spec.build is None or spec.image is None:
        return False
    ref = parse_image(spec.image)
    return ref.registry == spec.image.split("/")[0] and not ref.pinned


def policy_of(spec: ServiceSpec, override: Optional[str]) -> str:
    """The pull policy of ``spec`` in this run: ``--pull``, else its ``pull_policy``, else missing."""
    policy = override or spec.pull_policy or MISSING
    return MISSING if policy == BUILD else policy  # build concerns services that build; an image is pulled


def wanted_images(project: Project, services: Iterable[str], override: Optional[str],
                  build: bool = False) -> Dict[str, Tuple[str, ...]]:
    """{image: (policy, service names...)} of the selected services with registry images; two services
    naming one image take the stronger policy (always > missing > never). A built service whose image
    names a registry is ``local`` (never asked of a registry), unless it is built afresh in this run
    (``build``, ``--pull build``, ``pull_policy: build``): then it runs what the build makes."""
    found: Dict[str, Tuple[str, List[str]]] = {}
    for name in sorted(services):
        spec = project.service(name)
        if pushed_build(spec):
            if not (build or override == BUILD or spec.pull_policy == BUILD or override == NEVER):
                found.setdefault(spec.image, (LOCAL, []))[1].append(name)
            continue
        if not registry_image(spec):
            continue
        policy = policy_of(spec, override)
        old_policy, names = found.get(spec.image, (NEVER, []))
        names.append(name)
        found[spec.image] = (max(old_policy, policy, key=lambda p: _STRENGTH.get(p, 1)), names)
    return {image: (policy,) + tuple(names) for image, (policy, names) in sorted(found.items())}


def resolve_pins(project: Project, services: Iterable[str], engines: Mapping[str, ContainerEngine],
                 hosts: Sequence[str], override: Optional[str] = None,
                 credentials: Credentials = lambda registry: None, max_workers: int = 16,
                 build: bool = False) -> Tuple[Pin, ...]:
    """The Pin of every registry image the selected ``services`` use, each resolved once (``build``:
    ``up --build``, which builds afresh what it builds).

    Raises HostError naming the registry, the host asked through and the services when a registry
    refuses or cannot tell an ``always`` image: nothing has been touched then.
    """
    wanted = wanted_images(project, services, override, build)
    asked = [image for image, (policy, *_) in wanted.items() if policy != NEVER and not parse_image(image).pinned]
    held = _held(engines, hosts, asked, max_workers)
    answering = [h for h in hosts if h in held]
    pins = []
    for image, (policy, *names) in wanted.items():
        written = parse_image(image).digest
        if written:  # the file pins it already: nothing to ask
            pins.append(Pin(image, tuple(names), policy, written, "the compose file"))
            continue
        if policy == NEVER:
            pins.append(Pin(image, tuple(names), policy))
            continue
        if policy in (MISSING, LOCAL):
            copies = [(h, held[h][image]) for h in answering if held[h][image] is not None]
            local = next(((h, digest) for h, digest in copies if digest), None)
            if local is not None:
                pins.append(Pin(image, tuple(names), MISSING, local[1], f"the copy on {local[0]}"))
                continue
            if policy == LOCAL or copies:
                # Built, loaded or imported on the hosts (no digest anywhere): no registry knows it,
                # so it runs and travels between hosts as before.
                pins.append(Pin(image, tuple(names), NEVER))
                continue
        pins.append(_ask_registry(image, policy, tuple(names), engines, answering, credentials))
    return tuple(pins)


def _held(engines: Mapping[str, ContainerEngine], hosts: Sequence[str], images: Sequence[str],
          max_workers: int) -> Dict[str, Dict[str, Optional[str]]]:
    """{host: {image: None when absent, else the digest of its copy ("" when it has none)}} of every
    host that answers (all asked at once)."""
    if not images:
        return {}

    def ask(host: str) -> Dict[str, Optional[str]]:
        found: Dict[str, Optional[str]] = {}
        for image in images:
            digests = engines[host].repo_digests(image)
            found[image] = None if digests is None else repo_digest_of(image, digests) or ""
        return found

    return {r.key: r.value for r in fan_out(list(hosts), ask, max_workers=max_workers) if r.ok}


def _ask_registry(image: str, policy: str, names: Tuple[str, ...], engines: Mapping[str, ContainerEngine],
                  answering: Sequence[str], credentials: Credentials) -> Pin:
    registry = parse_image(image).registry
    what = f"service {', '.join(names)}: image {image}"
    if not answering:
        return Pin(image, names, policy, error=f"no host answered to ask registry {registry}")
    through = answering[0]
    try:
        digest = engines[through].registry_digest(image, credentials(registry))
    except NapComposeError as exc:
        reason = without_host(through, str(exc))
        if policy == ALWAYS:
            raise HostError(through, f"{what}: {reason} (nothing was created)") from None
        return Pin(image, names, policy, error=f"{reason} (asked through {through})")
    return Pin(image, names, policy, digest, f"registry {registry}, asked through {through}")


def pinned(project: Project, pins: Iterable[Pin]) -> Project:
    """``project`` with every pinned service's ``image`` replaced by its pinned reference."""
    by_service = {name: pin for pin in pins if pin.digest for name in pin.services}
    if not by_service:
        return project
    return replace(project, services=tuple(replace(s, image=by_service[s.name].reference)
                                           if s.name in by_service else s for s in project.services))
