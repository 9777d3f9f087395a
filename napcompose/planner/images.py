"""Which images must be pulled, built or copied before up creates anything. Pure.

Every selected replica's image must be on its host. A registry image pinned to its digest for this
run (observe/pins.py) is pulled by every host that lacks it, never copied (a loaded copy would not
carry the digest it is known by). Any other missing image is copied from a host that
has it, or built (on the first host that needs it, then copied to the others) when its service has
``build:`` and no host has it, or when ``--build`` asks for a fresh build. An image no host has and
that cannot be built stops the plan with a ConfigError naming service, image and host.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Set, Tuple

from napcompose.errors import ConfigError
from napcompose.imagecheck import image_name
from napcompose.model import Placement, Project
from napcompose.observe.pins import BUILD, Pin
from napcompose.planner.actions import BuildImage, CopyImage, Pull, image_key


def plan_images(project: Project, placement: Placement, selected: Set[str],
                present: Mapping[Tuple[str, str], Optional[str]], down: Set[str],
                build: bool = False, pins: Mapping[str, Pin] = {},
                pull: Optional[str] = None) -> Tuple[Tuple[BuildImage, ...], Tuple[CopyImage, ...], Tuple[Pull, ...]]:
    """(builds, copies, pulls) that put every selected, placed replica's image on its host.

    ``present`` maps (host, image) to the image's id there, None when the host lacks it; a pair
    that is not there is unknown and left alone (creating the container will tell). ``pins`` maps
    the reference a service runs to its Pin; ``pull`` is ``--pull`` (``build``: build afresh, as
    a service's ``pull_policy: build`` asks for itself).
    """
    wanted: Dict[str, Set[str]] = {}
    services_of: Dict[Tuple[str, str], Set[str]] = {}
    image_of = {spec.name: image_name(project.name, spec) for spec in reversed(project.services)}
    for replica, host in placement.assignments:
        if replica.service not in selected or host in down:
            continue
        image = image_of[replica.service]
        wanted.setdefault(image, set()).add(host)
        services_of.setdefault((host, image), set()).add(replica.service)

    def has(host: str, image: str) -> bool:
        return present.get((host, image), "unknown") is not None

    holders = {image: sorted(h for (h, i), found in present.items() if i == image and found)
               for image in wanted}
    # What depends only on the image is worked out once per image, not once per service using it.
    buildable_of: Dict[str, List] = {}
    for s in project.services:
        if s.build is not None and s.name in selected:
            buildable_of.setdefault(image_name(project.name, s), []).append(s)
    missing_of: Dict[str, Tuple[List[str], List[str]]] = {}
    done: Set[str] = set()  # each image is planned once, however many services use it
    builds: List[BuildImage] = []
    copies: List[CopyImage] = []
    pulls: List[Pull] = []
    problems: List[str] = []
    for spec in sorted((project.service(s) for s in selected), key=lambda s: s.name):
        image = image_name(project.name, spec)
        if image not in wanted or image in done:
            continue
        done.add(image)
        if image not in missing_of:
            hosts = sorted(wanted[image])
            missing_of[image] = (hosts, [h for h in hosts if not has(h, image)])
        hosts, missing = missing_of[image]
        buildable = buildable_of.get(image, [])
        fresh = build or pull == BUILD or any(s.pull_policy == BUILD for s in buildable)
        if buildable and (fresh or (missing and not holders[image])):
            first = hosts[0]
            reason = ("--build" if build else "pull policy build") if fresh else "on no host yet"
            builds.append(BuildImage(buildable[0].name, image, first, reason))
            copies.extend(CopyImage(buildable[0].name, image, first, host, f"built on {first}",
                                    after=(image_key(image, first),)) for host in hosts[1:])
            continue
        pin = pins.get(image)
        for host in missing:
            names = sorted(services_of[(host, image)])
            if pin is not None and pin.pull:
                pulls.append(Pull(names[0], image, host, f"missing on {host}", tag=pin.image))
            elif holders[image]:
                copies.append(CopyImage(names[0], image, holders[image][0], host, f"missing on {host}"))
            else:
                why = f" (registry: {pin.error})" if pin is not None and pin.error else ""
                problems.append(f"service {', '.join(names)}: image {image} is missing on {host}{why}")
    if problems:
        raise ConfigError("images missing, nothing was created:\n  " + "\n  ".join(sorted(problems))
                          + "\n(build them with `nap-compose build`, pull them with `nap-compose pull`, "
                          "or load them on those hosts)")
    return tuple(builds), tuple(copies), tuple(pulls)
