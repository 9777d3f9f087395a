"""A plan as lines for a terminal: one line per action, in the order they run. Pure."""

from __future__ import annotations

from typing import Dict, List

from napcompose.planner.actions import (AwaitReady, BuildImage, CopyImage, Create, CreateOneOff, Keep, Kill, Plan,
                                        Pull, PushImage, Recreate, Release, Remove, RemoveFiles, Reserve, Restart,
                                        ShipFiles, Start, Stop, WriteHosts, WriteNames)
from napcompose.planner.daytwo_actions import Pause, RemoveVolume, Unpause
from napcompose.planner.isolation_actions import ApplyIsolation
from napcompose.planner.rolling import render_rolling
from napcompose.planner.rolling_actions import ROLLING_TYPES

_WORDS = {Create: "create", Recreate: "recreate", Start: "start", Keep: "nothing", Stop: "stop",
          Restart: "restart", Remove: "remove", Kill: "kill", Pause: "pause", Unpause: "unpause"}


def _container_line(action, address: str) -> str:
    line = f"{action.replica.label} on {action.host} ({address}): {_WORDS[type(action)]} ({action.reason})"
    if getattr(action, "completed", False):
        line += "; dependents wait until it exits 0"
    return line


def render(plan: Plan) -> List[str]:
    """Every action of ``plan``, image copies and hosts-file writes included; then the hosts that did
    not answer. A container that will get a new address shows ``(new)`` (or its fixed address)."""
    peers: Dict = dict(plan.hosts_lines)
    lines: List[str] = []
    for action in plan.actions:
        if isinstance(action, ROLLING_TYPES):
            lines.extend(render_rolling(action, peers))
        elif isinstance(action, Reserve):
            for entry in action.entries:
                if entry.moved_from is not None:
                    lines.append(entry.why)  # "host node2 unreachable: moving web_2 to node3 with a new address"
                    continue
                lines.append(f"{entry.replica.label} on {entry.host} ({entry.fixed or '(new)'}): "
                             f"reserve an address ({entry.why})")
        elif isinstance(action, BuildImage):
            lines.append(f"image {action.image} on {action.host}: build for {action.service} ({action.reason})")
        elif isinstance(action, CopyImage):
            lines.append(f"image {action.image} on {action.host}: copy from {action.source} ({action.reason})")
        elif isinstance(action, Pull):
            lines.append(f"image {action.image} on {action.host}: pull {action.tag or action.image} for "
                         f"{action.service} ({action.reason})")
        elif isinstance(action, PushImage):
            lines.append(f"image {action.image} on {action.host}: push to its registry for {action.service} "
                         f"({action.reason})")
        elif isinstance(action, Release):
            what = f"the stranded address of {action.owner}" if action.owner else "the address"
            lines.append(f"{action.replica.label} on {action.host or '-'} ({action.ip}): release {what} "
                         f"({action.reason})")
        elif isinstance(action, ShipFiles):
            services = ", ".join(sorted({f.service for f in action.files}))
            lines.append(f"files on {action.host}: ship what is missing of {len(action.files)} source(s) "
                         f"of {services} ({action.reason})")
            lines.extend(f"    {f.service}: {f.shown} -> {f.target}: sha256:{f.digest[:12]} at {f.host_path}"
                         for f in action.files)
        elif isinstance(action, RemoveFiles):
            lines.append(f"files on {action.host}: remove the copies of project {action.project} ({action.reason})")
        elif isinstance(action, RemoveVolume):
            if action.in_use_by:
                lines.append(f"volume {action.volume} on {action.host}: keep (in use by "
                             f"{', '.join(action.in_use_by)})")
            else:
                lines.append(f"volume {action.volume} on {action.host}: remove ({action.reason})")
        elif isinstance(action, WriteHosts):
            names = ", ".join(r.label for r in action.replicas)
            lines.append(f"hosts files on {action.host}: write the blocks that differ ({names})")
        elif isinstance(action, AwaitReady):
            lines.append(f"{action.replica.label} on {action.host}: wait until {action.goal} ({action.reason})")
        elif isinstance(action, WriteNames):
            when = {"before": "with the replicas about to start, without those about to stop",
                    "unstarted": "without the replicas about to stop or be recreated; none it creates"}.get(
                        action.phase, "the serving replicas")
            lines.append(f"names on {action.host}: write project {action.project}'s files for the resolver ({when})")
        elif isinstance(action, CreateOneOff):
            lines.append(f"{action.replica.label} on {action.host} ({action.address}): create the one-off "
                         f"container {action.spec.container_name}" + (" and start it" if action.start else "")
                         + (" (removed when its run ends)" if action.rm else ""))
        elif isinstance(action, ApplyIsolation):
            what = ("the groups with the replicas about to start" if action.phase == "before"
                    else "the groups and the containers' ports")
            lines.append(f"bridge filters on {', '.join(action.hosts)}: load {what}"
                         + (f"; announce {', '.join(r.label for r in action.announce)}" if action.announce else ""))
        elif isinstance(action, (Create, Recreate)):
            lines.append(_container_line(action, str(action.address)))
            lines.extend("    " + line for line in peers.get(action.replica, ()))
        else:
            container = action.container
            lines.append(_container_line(action, (container.ip if container else None) or "-"))
            if isinstance(action, (Start, Keep)):
                lines.extend("    " + line for line in peers.get(action.replica, ()))
    for name, host, label, held in plan.volumes:
        lines.append(f"volume {name} on {host}: used by {label} ("
                     + ("its data is there" if held else "made there when the container is created") + ")")
    for host, reason in plan.down:
        lines.append(f"host {host} did not answer: {reason}")
    lines.extend(plan.notes)
    return lines
