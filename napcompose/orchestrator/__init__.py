"""Every deploy command as one road: observe → plan → execute.

``Orchestrator`` holds the ports (one ContainerEngine per host, RemoteFiles per host, the address
book, the image transfer, a Reporter, a Clock). Each command observes every host once, in
parallel (``observe``), makes a pure Plan of typed actions (``napcompose.planner``), and hands it
to the one executor (``napcompose.execute``). ``plan`` returns what ``run`` would execute for the same
state, and touches
nothing. Runs never raise for a container that fails: every outcome is in the RunReport.
The command line builds the Options (``napcompose.cli.options``). ``network.py`` is the same road
for the flat network (``network create``, ``network rm``).
"""

from __future__ import annotations

from typing import List, Optional, Sequence

from napcompose.imagecheck import image_name
from napcompose.model import Outcome, Project, RunReport
from napcompose.execute.executor import run_plan
from napcompose.execute.files import with_host_copies
from napcompose.execute.hosts import HostsDrift, check_blocks
from napcompose.execute.names import NamesDrift, check_files
from napcompose.execute.state import Core
from napcompose.observe.view import observe_with_store, only_services
from napcompose.observe.pins import ALWAYS, Pin, pinned, resolve_pins
from napcompose.orchestrator.garbage import rarer_collections
from napcompose.planner import Addresses, Command, Observation, Options, Plan, plan, selected_services
from napcompose.planner.volumes import removable

__all__ = ["Orchestrator", "Observation", "HostsDrift", "RunReport", "Outcome", "Options", "Command"]


class Orchestrator(Core):
    """Every deploy operation of one cluster. Call one operation at a time; each runs its own work
    in parallel across hosts and containers."""

    # ------------------------------------------------------------------ reading
    def addresses(self, project_name: str) -> Addresses:
        return Addresses.of_project(self.book.allocations(), project_name)

    def observe(self, project_name: Optional[str], everything: bool = False, images: Sequence[str] = (),
                addresses: Optional[Addresses] = None, volumes: Sequence[str] = (),
                read_only: bool = False) -> Observation:
        """Every host asked at once; containers of hosts that did not answer appear as stand-ins
        taken from the address book (read only then, unless ``addresses`` is given).

        ``read_only`` (ps and its kin): the store is read only when a host did not answer, and its
        failure is a warning; planning needs the evicted hosts whatever answered."""
        return observe_with_store(
            self.cluster, self.engines, project_name,
            evicted=self.evictions.evicted if self.evictions is not None else None,
            addresses=(lambda: addresses) if addresses is not None else (lambda: self.addresses(project_name)),
            warn=self.reporter.warning, read_only=read_only, everything=everything, images=images,
            volumes=volumes, max_workers=self.max_workers, observed_at=self.clock.now())

    def ps(self, project_name: str, services: Sequence[str] = (), all: bool = True) -> Observation:
        return only_services(self.observe(project_name, read_only=True), services, all)

    # ------------------------------------------------------------------ the one road
    def plan(self, project: Optional[Project], options: Options = Options(),
             command: Command = Command.UP, name: Optional[str] = None) -> "tuple[Plan, Addresses]":
        """Observe, then plan ``command``; nothing is reserved or changed."""
        project_name = project.name if project is not None else name
        addresses = self.addresses(project_name)
        shipped = None
        pins: "tuple[Pin, ...]" = ()
        if command is Command.PUSH:
            images = sorted({s.image for s in project.services if s.image})
            seen = self.observe(project_name, images=images, addresses=addresses)
        elif command is Command.PULL:
            pins = self.pins(project, options, ALWAYS)
            project = pinned(project, pins)
            # observed as for up, so the replicas are placed where up would place them
            volumes = sorted({v for s in project.services for v in s.named_volumes})
            seen = self.observe(project_name, everything=True, addresses=addresses, volumes=volumes)
        elif command is Command.UP:
            # Before anything is asked: bad bind sources are refused, and the copies' digests join
            # the config hashes the planner compares; so do the digests of the registry images.
            project, shipped = with_host_copies(project)
            pins = self.pins(project, options, options.pull)
            project = pinned(project, pins)
            images = sorted({image_name(project.name, s) for s in project.services})
            volumes = sorted({v for s in project.services for v in s.named_volumes})
            seen = self.observe(project_name, everything=True, images=images, addresses=addresses,
                                volumes=volumes)
        elif command is Command.DOWN and options.volumes and project is not None:
            # every project's containers: a volume another project's container mounts is kept
            seen = self.observe(project_name, everything=True, addresses=addresses,
                                volumes=removable(project))
        else:
            seen = self.observe(project_name, addresses=addresses)
        return plan(project, seen, addresses, options, command, shipped, pins=pins), addresses

    def pins(self, project: Project, options: Options, override: Optional[str]) -> "tuple[Pin, ...]":
        """The digest each selected registry image runs as in this run, resolved once (observe/pins.py)."""
        return resolve_pins(project, selected_services(project, options), self.engines,
                            [h.name for h in self.cluster.hosts], override, self.credentials, self.max_workers,
                            build=options.build)

    def run(self, project: Optional[Project], options: Options = Options(), command: Command = Command.UP,
            name: Optional[str] = None) -> RunReport:
        # a run keeps what it made to its end: collections that walk all of it are made rarer
        with rarer_collections():
            the_plan, addresses = self.plan(project, options, command, name)
            return self.execute(project, the_plan, addresses, options)

    def execute(self, project: Optional[Project], the_plan: Plan, addresses: Addresses,
                options: Options) -> RunReport:
        project = project or Project(the_plan.project, ())
        return run_plan(self, project, options, the_plan, addresses)

    # ------------------------------------------------------------------ hosts files
    def hosts_check(self, project: Project, seen: Optional[Observation] = None) -> List[HostsDrift]:
        """Every running container whose hosts file does not hold exactly its block, read from the same
        observation ``hosts sync`` plans from (``seen``, when the caller observed already)."""
        seen = seen or self.observe(project.name, read_only=True)
        for status in seen.unreachable:
            self.reporter.warning(f"cannot check {status.host}: {status.error}")
        return check_blocks(project, list(seen.containers), files=self.files, engines=self.engines,
                            reporter=self.reporter, max_workers=self.max_workers)

    def names_check(self, project: Project, seen: Optional[Observation] = None) -> List[NamesDrift]:
        """Every host that answers whose resolver file for ``project`` is missing or stale (none
        when the cluster runs no resolver); ``seen``: the observation, when the caller made it."""
        resolver = self.cluster.network.resolver
        if resolver is None:
            return []
        seen = seen or self.observe(project.name, read_only=True)
        answering = [h.host for h in seen.hosts if h.reachable]
        return check_files(project, list(seen.containers), resolver, answering, self.files, self.reporter,
                           self.max_workers, self.cluster.network.isolation)

    def hosts_sync(self, project: Project) -> RunReport:
        """Rewrite every block that differs; unreachable hosts are reported."""
        return self.run(project, Options(), Command.HOSTS_SYNC)
