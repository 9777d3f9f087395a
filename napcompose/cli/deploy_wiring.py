"""Builds the Orchestrator for a deploy command, and turns its results into terminal output.

Everything that talks to hosts is opened once per command, lazily, and closed when the command
ends (``ctx.on_close``). The Reporter here is the only place progress reaches the terminal.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Dict, Mapping

from napcompose.errors import ConfigError, NapComposeError, PartialFailure
from napcompose.cli.common import load_cluster


class CliReporter:
    """ports.Reporter writing one line per finished step: ``Creating web_2 on node3 (…) ... done``."""

    # Statuses that only say a step began; the terminal line comes with the step's end.
    _BEGIN = frozenset({"", "started", "starting", "running", "begin", "waiting"})

    def __init__(self, ctx):
        self._ctx = ctx
        self._lock = threading.Lock()

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        if status in self._BEGIN:
            return
        words = " ".join(part for part in (action, subject, detail) if part)
        with self._lock:
            self._ctx.err(f"{words} ... {status}")

    def warning(self, message: str) -> None:
        with self._lock:
            self._ctx.err(f"WARNING: {message}")


@dataclass
class Deploy:
    """What a deploy command works with; built once per command by ``deploy_for``."""

    cluster: object
    connections: object
    engines: Mapping[str, object]
    ipam: object
    orchestrator: object
    reporter: CliReporter
    store: object = None  # the KeyValueStore the IPAM and the project lock share


def deploy_for(ctx, cluster=None) -> Deploy:
    """The cluster, its connections and engines, the IPAM and an Orchestrator over them."""
    from napcompose.ipam import Ipam, Pool
    from napcompose.orchestrator import Orchestrator

    cluster = cluster or load_cluster(ctx)
    accept = bool(getattr(ctx.args, "accept_new_host_keys", False) or cluster.accept_new_host_keys)
    connections = ctx.wiring.connections(cluster, accept_new_host_keys=accept)
    ctx.on_close(connections.close)
    engines: Dict[str, object] = {host.name: ctx.wiring.engine(host, connections) for host in cluster.hosts}
    clock = ctx.wiring.clock()
    new_id = getattr(ctx.wiring, "new_id", None) or (lambda: uuid.uuid4().hex)
    store = ctx.wiring.store(cluster)
    ipam = Ipam(store, Pool.from_cluster(cluster), cluster.store.prefix, clock, new_id)
    reporter = CliReporter(ctx)
    orchestrator = Orchestrator(cluster, engines, connections.files, ipam, reporter, clock)
    return Deploy(cluster, connections, engines, ipam, orchestrator, reporter, store)


def raise_on_failures(report, what: str) -> None:
    """A RunReport with failures becomes one PartialFailure listing every one of them."""
    failed = list(report.failed)
    if not failed:
        return
    total = len(report.outcomes)
    lines = []
    for outcome in failed:
        host = outcome.host
        where = f" on {host}" if host and host != outcome.subject else ""
        reason = outcome.error or "skipped"
        if host and reason.startswith(f"{host}: "):
            reason = reason[len(host) + 2:]  # the line names the host already
        lines.append((f"{outcome.action} {outcome.subject}{where}".strip(), reason))
    raise PartialFailure(f"{what}: {len(failed)} of {total} steps failed", lines)


# ---------------------------------------------------------------------------- images


def image_of(project, spec) -> str:
    """The image a service runs: its ``image:``, else docker-compose's ``<project>_<service>``."""
    return spec.image or f"{project.name}_{spec.name}"


def _presence(deploy, wanted):
    """{host: set of present images} for every reachable host, asked in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(host):
        engine = deploy.engines[host]
        return host, {image for image in sorted(wanted[host]) if engine.image_present(image)}

    present, unreachable = {}, {}
    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
        futures = {host: pool.submit(ask, host) for host in wanted}
    for host, future in futures.items():
        try:
            present[host] = future.result()[1]
        except NapComposeError as exc:
            unreachable[host] = str(exc)
    return present, unreachable


def ensure_images(ctx, deploy, project, options, scales, build: bool = False) -> None:
    """Every placed replica's image must be on its host before anything is created.

    A missing image is copied from a host that has it, or built when the service has ``build:``;
    otherwise the run stops here, naming service, image and hosts, with nothing changed.
    Unreachable hosts are left to the run itself, which reports them per host.
    """
    from napcompose.planner import selected_services

    selected = selected_services(project, options)
    needed = {image_of(project, project.service(name)) for name in selected}
    # Fast path: every image on every host answers the question without placing anything.
    present, unreachable = _presence(deploy, {h.name: needed for h in deploy.cluster.hosts})
    if not build and all(needed <= images for images in present.values()):
        return
    # The preview places exactly as the run will, and reserves nothing.
    preview = deploy.orchestrator.preview(project, options, scales)
    placement = preview.placement
    services_of: Dict[tuple, set] = {}
    wanted: Dict[str, set] = {}
    for replica, host in placement.assignments:
        if replica.service not in selected:
            continue
        image = image_of(project, project.service(replica.service))
        wanted.setdefault(host, set()).add(image)
        services_of.setdefault((host, image), set()).add(replica.service)
    down = {h.host for h in preview.hosts if not h.reachable} | set(unreachable)
    wanted = {h: imgs for h, imgs in wanted.items() if h not in down}
    missing = sorted((host, image) for host, images in wanted.items() if host in present
                     for image in images if image not in present[host])
    to_build = [s for s in project.services if s.build is not None and s.name in selected
                and (build or any(image == image_of(project, s) for _, image in missing))]
    needing = sorted({h for h, imgs in wanted.items() for s in to_build if image_of(project, s) in imgs})
    built = {image_of(project, s) for s in to_build if build or not any(
        image_of(project, s) in imgs for imgs in present.values())}
    if built:
        # Built once and copied to the placed hosts (the build command's default strategy).
        from napcompose.adapters import images

        specs = [s for s in to_build if image_of(project, s) in built]
        images.distribute(deploy.connections.docker, project, specs, needing, deploy.reporter)
    problems = []
    for host, image in missing:
        if image in built:
            continue
        sources = sorted(h for h, imgs in present.items() if image in imgs)
        names = sorted(services_of[(host, image)])
        if sources:
            _copy(deploy, image, sources[0], host, names[0])
            present[host].add(image)
        else:
            problems.append(f"service {', '.join(names)}: image {image} is missing on {host}")
    if problems:
        raise ConfigError("images missing, nothing was created:\n  " + "\n  ".join(problems)
                          + "\n(build them with `nap-compose build`, or load them on those hosts)")


def _copy(deploy, image, source, target, service) -> None:
    """Stream ``image`` from ``source`` to ``target`` through the Docker API (save, load)."""
    from napcompose.adapters import images

    detail = f"{image} from {source} to {target}"
    deploy.reporter.progress(service, "Copying", "started", detail)
    try:
        images.copy(deploy.connections.docker(source), deploy.connections.docker(target), image,
                    src_host=source, dst_host=target)
    except NapComposeError:
        deploy.reporter.progress(service, "Copying", "error", detail)
        raise
    deploy.reporter.progress(service, "Copying", "done", detail)
