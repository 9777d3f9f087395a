"""From what the hosts hold to a plan of typed actions, without touching anything.

``plan`` is the one entry: the Observation (every host's containers, statuses and image ids),
the Addresses read from the address book, and the Options give a Plan whose waves the executor
runs. The command picks the planner; each is pure. The flat network's plans (``network.py``:
``network create``, ``network rm``) start from a NetworkObservation instead, and their actions
(``network_actions.py``) are part of the same closed set.
"""

from __future__ import annotations

import enum
from typing import Optional, Tuple

from napcompose.model import Project
from napcompose.planner.actions import (ACTION_TYPES, Action, Address, AwaitReady, BuildImage, CONTAINER_TYPES,
                                        CopyImage, Create, CreateOneOff, Keep, Kill, Plan, Pull, PushImage, Recreate, Release, Remove,
                                        RemoveFiles,
                                        Reservation, Reserve, Restart, ShipFiles, Start, Stop, Strand, Unreserved,
                                        WriteHosts, WriteNames, image_key, names_writes, ship_key)
from napcompose.planner.build import plan_build, plan_push
from napcompose.planner.gc import AddressRecords, plan_gc
from napcompose.planner.containers import (COMPOSE_VERSION, ContainerPlan, build_request, build_requests,
                                           completed_needed, converge, healthy_needed, hosts_block,
                                           selected_services)
from napcompose.planner.lifecycle import (plan_down, plan_hosts_sync, plan_kill, plan_pause, plan_restart, plan_rm,
                                         plan_start, plan_stop, plan_unpause)
from napcompose.planner.daytwo_actions import Pause, RemoveVolume, Unpause
from napcompose.planner.isolation_actions import ApplyIsolation, isolation_applies
from napcompose.planner.hostloss import current_generations, superseded
from napcompose.observe.observation import (Addresses, Observation, parse_owner, parse_stranded, stand_ins,
                                           stranded_owner)
from napcompose.planner.options import Options
from napcompose.planner.render import render
from napcompose.planner.rolling import plan_rollback
from napcompose.observe.copies import is_previous
from napcompose.planner.rolling_actions import RemovePrevious, RollBack, RollbackStep, RollingUpdate, RollStep
from napcompose.planner.pulls import plan_pull
from napcompose.planner.up import ShippedByService, fixed_address, plan_up
from napcompose.planner.run import with_ended_runs
from napcompose.observe.pins import Pin


class Command(enum.Enum):
    """What a run is for; picks the planner."""

    UP = "up"
    DOWN = "down"
    STOP = "stop"
    START = "start"
    RESTART = "restart"
    RM = "rm"
    KILL = "kill"
    HOSTS_SYNC = "hosts sync"
    ROLLBACK = "rollback"
    BUILD = "build"
    PULL = "pull"
    PUSH = "push"
    GC = "ipam gc"
    PAUSE = "pause"
    UNPAUSE = "unpause"


def plan(project: Optional[Project], observation: Observation, addresses: Addresses, options: Options,
         command: Command = Command.UP, shipped: Optional[ShippedByService] = None,
         records: Optional[AddressRecords] = None, pins: Tuple[Pin, ...] = ()) -> Plan:
    """The Plan of ``command``. ``project`` may be None only for ``down`` by project name and for
    ``ipam gc``, which plans from ``records`` (every project's addresses) instead of ``addresses``.
    For ``up``, ``shipped`` is what ``napcompose.shipping.manifest`` found, its binds already
    rewritten in ``project``. For ``up`` and ``pull``, ``pins`` is the digest each registry image
    runs as in this run (observe/pins.py), already written into ``project``'s images."""
    if command is Command.GC:
        return plan_gc(observation, records)
    if command is Command.UP:
        # the containers of ended ``run --rm`` whose operator never removed them go too
        return with_ended_runs(plan_up(project, observation, addresses, options, shipped, pins), observation)
    if command is Command.PULL:
        return plan_pull(project, observation, addresses, options, pins)
    if command is Command.DOWN:
        return plan_down(project, observation, addresses, options)
    if command is Command.HOSTS_SYNC:
        return plan_hosts_sync(project, observation, options, addresses)
    planners = {Command.STOP: plan_stop, Command.START: plan_start, Command.RESTART: plan_restart,
                Command.RM: plan_rm, Command.KILL: plan_kill, Command.HOSTS_SYNC: plan_hosts_sync,
                Command.ROLLBACK: plan_rollback, Command.BUILD: plan_build, Command.PUSH: plan_push,
                Command.PAUSE: plan_pause, Command.UNPAUSE: plan_unpause}
    return planners[command](project, observation, options)


__all__ = [
    "ACTION_TYPES", "Action", "Address", "Addresses", "AwaitReady", "BuildImage", "COMPOSE_VERSION",
    "CONTAINER_TYPES", "CreateOneOff",
    "Command", "ContainerPlan", "CopyImage", "Create", "Keep", "Kill", "Observation", "Options", "Plan",
    "Recreate", "Release", "Remove", "RemoveFiles", "RemovePrevious", "Reservation", "Reserve",
    "Restart", "RollBack", "RollStep", "RollbackStep", "RollingUpdate", "ShipFiles", "is_previous", "plan_rollback",
    "ShippedByService", "Start", "Stop",
    "Unreserved", "WriteHosts", "WriteNames", "names_writes",
    "build_request", "build_requests", "converge", "fixed_address",
    "completed_needed", "healthy_needed", "hosts_block", "image_key", "parse_owner", "ship_key", "plan", "plan_down", "plan_hosts_sync", "plan_kill",
    "plan_restart", "plan_rm", "plan_start", "plan_stop", "plan_up", "render", "selected_services",
    "stand_ins", "Strand", "current_generations", "superseded", "parse_stranded", "stranded_owner",
    "AddressRecords", "plan_build", "plan_gc", "Pull", "Pin", "plan_pull", "PushImage", "plan_push",
    "Pause", "Unpause", "RemoveVolume", "plan_pause", "plan_unpause", "ApplyIsolation", "isolation_applies",
]
