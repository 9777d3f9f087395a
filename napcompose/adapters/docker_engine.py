"""The ContainerEngine port over docker-py's low-level API, one instance per host.

Containers are found by compose's labels and rebuilt into ObservedContainer values, so Docker
itself is the only record of what runs where. Every SDK, HTTP or SSH failure leaves this module
as a HostError naming the host, the verb and the container.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from typing import Callable, Iterator, List, Optional, Tuple

from napcompose.adapters.docker_create import create_kwargs
from napcompose.adapters.attach import container_upgrade, exec_upgrade
from napcompose.adapters.lines import split_lines
from napcompose.adapters.exec_stream import exec_output
from napcompose.adapters.dropped import once_more_if_in_transit, once_more_unless_landed
from napcompose.adapters.sdk_errors import cause, in_transit, sdk_errors
from napcompose.errors import HostError, NapComposeError, VolumeInUseError
from napcompose.imageref import parse_image
from napcompose.model import (GENERATION_LABEL, ContainerEvent, ContainerRequest, ExecRequest, ObservedContainer,
                              RegistryAuth,
                              Replica, exit_code_of, parse_generation)
from napcompose.clustermodel import Host, NetworkView

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
HASH_LABEL = "com.docker.compose.config-hash"
ONEOFF_LABEL = "com.docker.compose.oneoff"
HOST_LABEL = "io.nap-compose.host"
ADDRESS_LABEL = "io.nap-compose.address"
ALLOC_LABEL = "io.nap-compose.alloc-id"

_NANO = 1_000_000_000
EVENT_ACTIONS = ("start", "stop", "die")




class DockerEngine:
    """ports.ContainerEngine for one Docker host, over the host's shared connection."""

    def __init__(self, host: Host, connections, network: Optional[str] = None):
        self.host = host.name
        self._host = host
        self._connections = connections
        cluster = getattr(connections, "cluster", None)
        self._network = network or (cluster.network.name if cluster is not None else None)

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _calling(self, verb: str, subject: str = ""):
        """Translate every failure inside the block into HostError("<host>: <verb> <subject>: <cause>")."""
        what = f"{verb} {subject}".strip()
        try:
            yield
        except HostError as exc:
            # The connection layer already names the host; say it once, then what we were doing.
            inner = str(exc)
            if inner.startswith(f"{exc.host}: "):
                inner = inner[len(exc.host) + 2:]
            if exc.host == self.host and inner.startswith(what):
                raise
            raise HostError(self.host, f"{what}: {inner}") from exc
        except NapComposeError:
            raise
        except sdk_errors() as exc:
            raise HostError(self.host, f"{what}: {cause(exc)}") from exc

    def _api(self):
        return self._connections.docker(self.host).api

    # ------------------------------------------------------------------ observing

    def list_containers(self, project: Optional[str] = None) -> List[ObservedContainer]:
        # Our own label as well as the project's: a docker-compose project of the same name on the host
        # carries only the latter, and must never be taken for replicas (nor removed by ``down``).
        labels = [f"{PROJECT_LABEL}={project}", HOST_LABEL] if project else [HOST_LABEL]
        with self._calling("list containers", f"of project {project}" if project else ""):
            rows = self._container_rows(labels)
        observed = [self._observed(row) for row in rows]
        return sorted(observed, key=lambda c: (c.replica is None, c.replica or Replica("", "", 0), c.name))

    def _container_rows(self, labels: List[str]) -> List[dict]:
        """Every container carrying all ``labels``, as the API lists them. An ssh:// host whose
        Docker client is not made yet (``ps``: nothing else is asked) gets one GET of our own
        (docker_get.py), so listing loads neither docker-py nor requests; the query is docker-py's
        ``containers(all=True, filters=...)``'s."""
        light = getattr(self._connections, "lists_without_docker_py", None)
        if light is None or not light(self.host):
            return self._api().containers(all=True, filters={"label": labels})
        query = urllib.parse.urlencode({"limit": -1, "all": 1, "size": 0, "trunc_cmd": 0,
                                        "filters": json.dumps({"label": labels})})
        return self._connections.docker_get(self.host, f"/containers/json?{query}") or []

    def _observed(self, row) -> ObservedContainer:
        labels = row.get("Labels") or {}
        replica = None
        number = labels.get(NUMBER_LABEL, "")
        if labels.get(PROJECT_LABEL) and labels.get(SERVICE_LABEL) and number.isdigit():
            replica = Replica(labels[PROJECT_LABEL], labels[SERVICE_LABEL], int(number))
        names = row.get("Names") or [""]
        return ObservedContainer(
            host=self.host,
            id=row["Id"],
            name=names[0].lstrip("/"),
            replica=replica,
            config_hash=labels.get(HASH_LABEL),
            state=row.get("State") or "unknown",
            ip=self._address(row, labels),
            alloc_id=labels.get(ALLOC_LABEL),
            health=_health_from_status(row.get("Status") or ""),
            ports=tuple(_render_port(p) for p in sorted(row.get("Ports") or [], key=_port_key)),
            image=row.get("Image"),
            one_off=labels.get(ONEOFF_LABEL) == "True",
            image_id=row.get("ImageID") or None,
            status=row.get("Status") or "",
            generation=parse_generation(labels.get(GENERATION_LABEL)),
            exit_code=exit_code_of(row.get("Status") or ""),
            command=row.get("Command") or "",
            created=int(row.get("Created") or 0),
            labels=tuple(sorted(labels.items())),
            mounts=tuple(m.get("Name") or m.get("Source") or "" for m in row.get("Mounts") or []),
            local_volumes=sum(1 for m in row.get("Mounts") or []
                              if m.get("Type") == "volume" and m.get("Driver") == "local"),
            networks=tuple(sorted((row.get("NetworkSettings") or {}).get("Networks") or {})),
        )

    def _address(self, row, labels) -> Optional[str]:
        """The address on the cluster network; the label's while the container is not attached."""
        networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
        if self._network and self._network in networks:
            endpoint = networks[self._network] or {}
            configured = (endpoint.get("IPAMConfig") or {}).get("IPv4Address")
            if endpoint.get("IPAddress") or configured:
                return endpoint.get("IPAddress") or configured
        return labels.get(ADDRESS_LABEL) or None

    def hosts_path(self, container_id: str) -> str:
        with self._calling("inspect", container_id[:12]):
            path = once_more_if_in_transit(lambda: self._api().inspect_container(container_id),
                                           in_transit).get("HostsPath")
        if not path:
            raise HostError(self.host, f"inspect {container_id[:12]}: Docker reports no hosts file "
                                       "(was the container ever started?)")
        return path

    def health(self, container_id: str) -> Optional[str]:
        with self._calling("inspect", container_id[:12]):
            state = self._api().inspect_container(container_id).get("State") or {}
        health = state.get("Health")
        return health.get("Status") if health else None

    def image_present(self, reference: str) -> bool:
        import docker.errors

        with self._calling("inspect image", reference):
            try:
                self._api().inspect_image(reference)
            except docker.errors.ImageNotFound:
                return False
            except docker.errors.NotFound:
                return False
        return True

    def network_view(self, network: str) -> NetworkView:
        # The cause alone, as network check has always said it: its line names host and network.
        from napcompose.adapters.docker_network import network_view  # docker-py: not for every command

        client = self._connections.docker(self.host)
        try:
            return network_view(self.host, client, network)
        except sdk_errors() as exc:
            raise HostError(self.host, cause(exc)) from exc

    def volume_names(self) -> List[str]:
        with self._calling("list volumes"):
            found = self._api().volumes() or {}
        return sorted(v.get("Name", "") for v in found.get("Volumes") or ())

    def image_id(self, reference: str) -> Optional[str]:
        import docker.errors

        with self._calling("inspect image", reference):
            try:
                found = self._api().inspect_image(reference)
            except docker.errors.NotFound:  # ImageNotFound is a NotFound
                return None
        return found.get("Id") or None

    def repo_digests(self, reference: str) -> Optional[Tuple[str, ...]]:
        import docker.errors

        with self._calling("inspect image", reference):
            try:
                found = self._api().inspect_image(reference)
            except docker.errors.NotFound:
                return None
        return tuple(found.get("RepoDigests") or ())

    def registry_digest(self, reference: str, auth: Optional[RegistryAuth] = None) -> str:
        registry = parse_image(reference).registry
        with self._calling(f"ask registry {registry} for", reference):
            found = self._api().inspect_distribution(reference, auth_config=_auth(auth))
        digest = (found.get("Descriptor") or {}).get("digest")
        if not digest:
            raise HostError(self.host, f"ask registry {registry} for {reference}: no digest in its answer")
        return digest

    def pull(self, reference: str, auth: Optional[RegistryAuth] = None,
             progress: Optional[Callable[[str], None]] = None) -> None:
        registry = parse_image(reference).registry
        with self._calling(f"pull from registry {registry}", reference):
            for chunk in self._api().pull(reference, stream=True, decode=True, auth_config=_auth(auth)):
                error = _stream_error(chunk)
                if error:
                    raise HostError(self.host, f"pull from registry {registry} {reference}: {error}")
                if progress is not None and chunk.get("status") in _PULL_STEPS:
                    progress(f"{chunk.get('id', '')} {chunk['status']}".strip())

    def tag_image(self, source: str, target: str) -> None:
        ref = parse_image(target)
        with self._calling("tag", f"{source} as {target}"):
            self._api().tag(source, ref.repository, ref.tag or "latest", force=True)

    def push(self, reference: str, auth: Optional[RegistryAuth] = None) -> str:
        registry = parse_image(reference).registry
        digest = ""
        with self._calling(f"push to registry {registry}", reference):
            for chunk in self._api().push(reference, stream=True, decode=True, auth_config=_auth(auth)):
                error = _stream_error(chunk)
                if error:
                    raise HostError(self.host, f"push to registry {registry} {reference}: {error}")
                digest = (chunk.get("aux") or {}).get("Digest") or digest
        return digest

    def events(self, since: float, until: float) -> List[ContainerEvent]:
        """The engine's container start/stop/die events in [since, until], oldest first.

        With ``until`` given the engine replays what it kept and closes the stream, so the call ends.
        """
        filters = {"type": ["container"], "event": list(EVENT_ACTIONS)}
        found = []
        with self._calling("read events"):
            stream = self._api().events(since=_api_time(since), until=_api_time(until), filters=filters,
                                        decode=True)
            try:
                for raw in stream:
                    event = _event(self.host, raw)
                    if event is not None:
                        found.append(event)
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
        return sorted(found, key=lambda e: (e.time, e.container_id, e.action))

    # ------------------------------------------------------------------ changing

    def create_container(self, request: ContainerRequest) -> str:
        def create() -> str:
            api = self._api()
            return api.create_container(**create_kwargs(api, request))["Id"]

        with self._calling("create", request.name):
            # A connection that ends under a create leaves unknown whether the container landed:
            # asked by its name (and our allocation's label) before a second create.
            return once_more_unless_landed(create, lambda: self._landed(request), in_transit)

    def _landed(self, request: ContainerRequest) -> Optional[str]:
        """The id of the container ``request`` created, when it is there; None otherwise."""
        import docker.errors

        try:
            found = self._api().inspect_container(request.name)
        except docker.errors.NotFound:
            return None
        labels = (found.get("Config") or {}).get("Labels") or {}
        # another container holding the name is not ours: the second create says so (a conflict)
        return found.get("Id") if labels.get(ALLOC_LABEL) == request.alloc_id else None

    def start_container(self, container_id: str) -> None:
        with self._calling("start", container_id[:12]):
            # starting a started container is answered 304, no error: a second start is harmless
            once_more_if_in_transit(lambda: self._api().start(container_id), in_transit)

    def stop_container(self, container_id: str, timeout: Optional[float] = None) -> None:
        with self._calling("stop", container_id[:12]):
            def stop() -> None:  # a stopped container's stop is answered 304: harmless twice
                api = self._api()
                if timeout is None:
                    api.stop(container_id)
                else:
                    # The HTTP read must outlast Docker's own grace period.
                    api.stop(container_id, timeout=int(timeout))

            once_more_if_in_transit(stop, in_transit)

    def remove_container(self, container_id: str, force: bool = False, volumes: bool = False) -> None:
        import docker.errors

        with self._calling("remove", container_id[:12]):
            def remove() -> None:
                try:
                    self._api().remove_container(container_id, force=force, v=volumes)
                except docker.errors.NotFound:
                    pass  # already gone: removal is idempotent, so harmless twice

            once_more_if_in_transit(remove, in_transit)

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        with self._calling("kill", container_id[:12]):
            self._api().kill(container_id, signal=signal)

    def rename_container(self, container_id: str, name: str) -> None:
        with self._calling("rename", f"{container_id[:12]} to {name}"):
            self._api().rename(container_id, name)

    # ------------------------------------------------------------------ for the CLI

    def logs(self, container_id: str, follow: bool = False, tail: Optional[int] = None,
             timestamps: bool = False, since: Optional[float] = None,
             until: Optional[float] = None) -> Iterator[str]:
        """The container's output, one decoded line at a time (without the newline)."""
        window = {}
        if since is not None:
            window["since"] = since
        if until is not None:
            window["until"] = until
        with self._calling("logs", container_id[:12]):
            chunks = self._api().logs(container_id, stream=True, follow=follow, timestamps=timestamps,
                                      tail="all" if tail is None else int(tail), **window)
        def each_chunk() -> Iterator[bytes]:
            while True:
                with self._calling("logs", container_id[:12]):
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                yield chunk

        for line in split_lines(each_chunk()):
            yield line.decode("utf-8", "replace")

    def exec(self, container_id: str, cmd, tty: bool = False, write=None) -> int:
        """Run ``cmd`` (a list, never a shell string) in the container; stream output to ``write``."""
        with self._calling("exec in", container_id[:12]):
            api = self._api()
            exec_id = api.exec_create(container_id, list(cmd), tty=tty)["Id"]
            exec_output(api, exec_id, tty, write)
            return int(api.exec_inspect(exec_id).get("ExitCode") or 0)

    def exec_attached(self, container_id: str, request: ExecRequest, streams) -> int:
        """Run ``request`` with the operator's streams; its exit code (0 when detached)."""
        with self._calling("exec in", container_id[:12]):
            api = self._api()
            exec_id = api.exec_create(container_id, list(request.cmd), stdin=request.stdin and not request.detach,
                                      tty=request.tty, privileged=request.privileged, user=request.user or "",
                                      environment=[f"{k}={v}" for k, v in request.env] or None,
                                      workdir=request.workdir or None)["Id"]
            if request.detach:
                api.exec_start(exec_id, detach=True, tty=request.tty)
                return 0
            upgraded = exec_upgrade(api, exec_id, request.tty, request.stdin)
            try:
                if request.tty:
                    _sized(streams, lambda rows, cols: api.exec_resize(exec_id, height=rows, width=cols))
                upgraded.pump(streams)
            finally:
                upgraded.close()
            return _exec_code(api, exec_id)

    def attach(self, container_id: str, tty: bool, stdin: bool):
        with self._calling("attach to", container_id[:12]):
            return container_upgrade(self._api(), container_id, tty, stdin)

    def wait(self, container_id: str) -> int:
        with self._calling("wait for", container_id[:12]):
            api = self._api()
            return int((api.wait(container_id, timeout=None) or {}).get("StatusCode", 0))

    def resize(self, container_id: str, rows: int, columns: int) -> None:
        with self._calling("resize", container_id[:12]):
            self._api().resize(container_id, height=rows, width=columns)


    # ------------------------------------------------------------------ day two (ports.DayTwo)

    def list_volumes(self) -> List[Tuple[str, str]]:
        with self._calling("list volumes"):
            found = self._api().volumes() or {}
        return sorted((v.get("Name", ""), v.get("Driver", "")) for v in found.get("Volumes") or ())

    def remove_volume(self, name: str) -> bool:
        import docker.errors

        with self._calling("remove volume", name):
            try:
                self._api().remove_volume(name)
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as exc:
                if exc.status_code == 409:  # Docker's answer for a volume a container still uses
                    raise VolumeInUseError(self.host, f"remove volume {name}: {cause(exc)}") from exc
                raise
        return True

    def pause_container(self, container_id: str) -> None:
        with self._calling("pause", container_id[:12]):
            self._api().pause(container_id)

    def unpause_container(self, container_id: str) -> None:
        with self._calling("unpause", container_id[:12]):
            self._api().unpause(container_id)

    def top(self, container_id: str):
        with self._calling("top", container_id[:12]):
            found = self._api().top(container_id) or {}
        return (tuple(found.get("Titles") or ()),
                tuple(tuple(str(c) for c in row) for row in found.get("Processes") or ()))

    def stats(self, container_id: str):
        with self._calling("stats", container_id[:12]):
            return self._api().stats(container_id, stream=False) or {}

    def port(self, container_id: str, private: str) -> List[Tuple[str, str]]:
        with self._calling("inspect", container_id[:12]):
            ports = ((self._api().inspect_container(container_id).get("NetworkSettings") or {})
                     .get("Ports") or {})
        return [(b.get("HostIp") or "0.0.0.0", str(b.get("HostPort") or "")) for b in ports.get(private) or ()]

    def version(self):
        with self._calling("ask the version"):
            return self._api().version() or {}

    def watch_events(self, project: str, since: Optional[float] = None, until: Optional[float] = None):
        filters = {"type": ["container"], "label": [f"{PROJECT_LABEL}={project}"]}
        with self._calling("read events"):
            stream = self._api().events(since=None if since is None else _api_time(since),
                                        until=None if until is None else _api_time(until),
                                        filters=filters, decode=True)
        try:
            while True:
                with self._calling("read events"):
                    raw = next(stream, None)
                if raw is None:
                    return
                event = _event(self.host, raw, any_action=True)
                if event is not None:
                    yield event
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def path_stat(self, container_id: str, path: str):
        import docker.errors
        from docker.utils import decode_json_header

        with self._calling("stat", f"{container_id[:12]}:{path}"):
            api = self._api()
            # HEAD of the archive endpoint: the path's stat without its content
            reply = api.head(api._url("/containers/{0}/archive", container_id), params={"path": path})
            if reply.status_code == 404:
                return None
            try:
                api._raise_for_status(reply)
            except docker.errors.NotFound:
                return None
        encoded = reply.headers.get("x-docker-container-path-stat")
        return decode_json_header(encoded) if encoded else {}

    def get_archive(self, container_id: str, path: str):
        with self._calling("copy from", f"{container_id[:12]}:{path}"):
            chunks, stat = self._api().get_archive(container_id, path, chunk_size=_CHUNK)

        def read():
            while True:
                with self._calling("copy from", f"{container_id[:12]}:{path}"):
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                yield chunk

        return read(), stat or {}

    def put_archive(self, container_id: str, path: str, chunks) -> None:
        # A generator makes the request body chunked: the archive is never held whole in memory.
        with self._calling("copy to", f"{container_id[:12]}:{path}"):
            if not self._api().put_archive(container_id, path, chunks):
                raise HostError(self.host, f"copy to {container_id[:12]}:{path}: refused by the engine")


_CHUNK = 1 << 16  # bytes per read of an archive stream


# ---------------------------------------------------------------------- request → API arguments

# The pull stream's steps worth a progress line: one per layer as it starts and ends, not the byte counts.
_PULL_STEPS = ("Pulling fs layer", "Already exists", "Pull complete")


def _auth(auth: Optional[RegistryAuth]):
    """docker-py's auth_config for one request. Without credentials an empty one, never None: None
    would have docker-py read a Docker config of its own choosing (this process's environment),
    while the credentials sent are only those the command itself read (adapters/docker_config.py)."""
    return auth.auth_config() if auth is not None else {}


def _stream_error(chunk) -> Optional[str]:
    """The error a pull or push stream reports in one of its messages, if any."""
    if not isinstance(chunk, dict):
        return None
    detail = chunk.get("errorDetail") or {}
    message = chunk.get("error") or detail.get("message")
    return str(message).strip() if message else None



def _api_time(seconds: float) -> str:
    """Docker takes "seconds.nanoseconds"; a float's repr could turn into exponent notation."""
    return f"{seconds:.9f}"


def _event(host: str, raw, any_action: bool = False) -> Optional[ContainerEvent]:
    """A ContainerEvent from one decoded event of Docker's stream; None for anything else (and for
    actions other than start, stop and die unless ``any_action``)."""
    action = raw.get("Action") or raw.get("status") or ""
    if raw.get("Type", "container") != "container" or not (any_action or action in EVENT_ACTIONS):
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    nanos = raw.get("timeNano")
    stamp = nanos / _NANO if nanos else float(raw.get("time") or 0)
    replica = None
    number = attributes.get(NUMBER_LABEL, "")
    if attributes.get(PROJECT_LABEL) and attributes.get(SERVICE_LABEL) and number.isdigit():
        replica = Replica(attributes[PROJECT_LABEL], attributes[SERVICE_LABEL], int(number))
    code = attributes.get("exitCode")
    return ContainerEvent(time=stamp, host=host, container_id=actor.get("ID") or raw.get("id") or "",
                          name=attributes.get("name") or "", action=action, replica=replica,
                          exit_code=int(code) if code is not None and str(code).lstrip("-").isdigit() else None,
                          attributes=tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def _health_from_status(status: str) -> Optional[str]:
    """Docker's list view only carries health inside the human status ("Up 3 s (healthy)")."""
    if "(healthy)" in status:
        return "healthy"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(health: starting)" in status:
        return "starting"
    return None


def _port_key(port):
    return (port.get("PrivatePort") or 0, port.get("Type") or "", port.get("IP") or "")


def _render_port(port) -> str:
    inner = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
    if port.get("PublicPort"):
        return f"{port.get('IP') or '0.0.0.0'}:{port['PublicPort']}->{inner}"
    return inner


def _sized(streams, resize) -> None:
    """Size the pseudo-terminal like the operator's now, and again whenever that one changes."""
    size = streams.size()
    if size is not None:
        resize(*size)
    streams.on_resize(resize)


def _exec_code(api, exec_id: str) -> int:
    """The exit code of an exec whose output ended. Docker records it a moment after closing the
    stream: while it still says running, ask again (briefly), rather than report a code it has not."""
    import time

    for _ in range(100):
        found = api.exec_inspect(exec_id)
        if not found.get("Running") and found.get("ExitCode") is not None:
            return int(found["ExitCode"])
        time.sleep(0.02)
    return int(found.get("ExitCode") or 0)
