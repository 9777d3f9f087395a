"""In-memory doubles of the ContainerEngine and RemoteFiles ports, for unit tests of deploy.

``FakeWorld`` is a little cluster: one shared file system with inodes (so a container keeps seeing
its hosts file's inode, as through Docker's bind mount), one flat network (an address can be held
once), and a FakeEngine and FakeFiles per host. Engines and files can be told to fail per
operation and container, or to be unreachable as a whole.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Set, Tuple

from napcompose.clustermodel import Endpoint, NetworkView
from napcompose.errors import HostError, VolumeInUseError
from napcompose.imageref import parse_image
from napcompose.model import (GENERATION_LABEL, ContainerEvent, ContainerRequest, ObservedContainer, Replica,
                              parse_generation)

DOCKER_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n")


SHARED_PIECE = 64 * 1024  # a piece of a file this long is kept once for every file holding it


class _Inode:
    """A file's content. A large project's hosts files hold the same long run of peers' lines, so
    the content may be kept as pieces, the long ones shared between inodes; ``data`` joins them
    (for a test that reads or changes the bytes in place) and keeps the result."""

    def __init__(self, number: int, data: bytes):
        self.number = number
        self._data = bytearray(data)
        self._pieces: Optional[Tuple[bytes, ...]] = None

    @property
    def data(self) -> bytearray:
        if self._pieces is not None:
            self._data, self._pieces = bytearray(b"".join(self._pieces)), None
        return self._data

    @data.setter
    def data(self, value: bytes) -> None:  # what a process in the container writes
        self._data, self._pieces = bytearray(value), None

    def content(self) -> bytes:
        return b"".join(self._pieces) if self._pieces is not None else bytes(self._data)

    def put_pieces(self, pieces: Sequence[bytes]) -> None:
        self._pieces, self._data = tuple(p for p in pieces if p), bytearray()

    def replace(self, data: bytes) -> None:
        """The content becomes ``data``; a long piece of the old content still at its place is kept shared."""
        out: List[bytes] = []
        at = offset = 0
        for piece in self._pieces or ():
            if len(piece) >= SHARED_PIECE and data.startswith(piece, offset):
                out += [data[at:offset], piece]
                at = offset + len(piece)
            offset += len(piece)
        if out:
            self.put_pieces(out + [data[at:]])
        else:
            self._pieces, self._data = None, bytearray(data)


class FakeFS:
    """Paths pointing at inodes; a rename replaces the path's inode, an in-place write does not."""

    def __init__(self):
        self._lock = threading.Lock()
        self._paths: Dict[str, _Inode] = {}
        self._numbers = itertools.count(1000)

    def create(self, path: str, data: bytes) -> _Inode:
        with self._lock:
            inode = _Inode(next(self._numbers), data)
            self._paths[path] = inode
            return inode

    def inode(self, path: str) -> Optional[_Inode]:
        return self._paths.get(path)

    def remove(self, path: str) -> None:
        with self._lock:
            self._paths.pop(path, None)


def _or_error(work):
    try:
        return work()
    except HostError as exc:
        return exc


class FakeFiles:
    """RemoteFiles of one host over the shared FakeFS."""

    def __init__(self, host: str, fs: FakeFS):
        self.host = host
        self.fs = fs
        self.unreachable: Optional[str] = None
        self.fail_paths: Dict[str, str] = {}
        self.reads: List[str] = []
        self.writes: List[str] = []
        self.tree: Dict[str, Tuple[str, int, object]] = {}
        self.owners: Dict[str, Tuple[int, int]] = {}  # paths given away by chown; the rest are root's
        self.calls: List[Tuple[str, str]] = []
        self.staged: List[Tuple[str, str]] = []  # ("put" | "remove", path) of every put_stages, in order
        self.batches: List[Tuple[str, int]] = []  # (read_many | write_many_in_place, how many files): round trips

    def _check(self, path: str) -> _Inode:
        if self.unreachable:
            raise HostError(self.host, f"ssh: {self.unreachable}")
        if path in self.fail_paths:
            raise HostError(self.host, f"{path}: {self.fail_paths[path]}")
        inode = self.fs.inode(path)
        if inode is None:
            raise HostError(self.host, f"{path}: no such file")
        return inode

    def read(self, path: str, max_bytes=None) -> bytes:
        if self.tree.get(path, ("",))[0] == "file" and not self.unreachable:  # a file put there (names files)
            self.reads.append(path)
            data = self.tree[path][2]
        else:
            inode = self._check(path)
            self.reads.append(path)
            data = inode.content()
        if max_bytes is not None and len(data) > max_bytes:
            raise HostError(self.host, f"{path} holds more than {max_bytes} bytes; not read")
        return data

    def write_in_place(self, path: str, data: bytes) -> None:
        inode = self._check(path)
        self.writes.append(path)
        inode.replace(bytes(data))

    def read_many(self, paths, max_bytes: int):
        self.batches.append(("read_many", len(paths)))
        return [_or_error(lambda p=p: self.read(p, max_bytes)) for p in paths]

    def write_many_in_place(self, items):
        self.batches.append(("write_many_in_place", len(items)))
        return [_or_error(lambda i=item: self.write_in_place(*i)) for item in items]

    # Shipping: a per-host tree of its own (path -> ("dir", mode, None) | ("file", mode, bytes) |
    # ("link", 0o777, target)); every call is counted as one round trip in ``calls``.

    def _tree_op(self, op: str, path: str) -> None:
        if self.unreachable:
            raise HostError(self.host, f"ssh: {self.unreachable}")
        if path in self.fail_paths:
            raise HostError(self.host, f"{path}: {self.fail_paths[path]}")
        self.calls.append((op, path))

    def _parent_must_exist(self, path: str) -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        if parent != "/" and self.tree.get(parent, ("",))[0] != "dir":
            raise HostError(self.host, f"{path}: no such directory {parent}")

    def listdir(self, path: str) -> List[str]:
        self._tree_op("listdir", path)
        prefix = path.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.tree if p.startswith(prefix)})

    def makedirs(self, path: str, mode: int) -> None:
        self._tree_op("makedirs", path)
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            kind = self.tree.get(current, ("",))[0]
            if kind == "":
                self.tree[current] = ("dir", mode, None)
            elif kind != "dir":
                raise HostError(self.host, f"{current}: not a directory")

    def put(self, path: str, data, mode: int) -> None:
        self._tree_op("put", path)
        self._parent_must_exist(path)
        whole = data if isinstance(data, (bytes, bytearray)) else b"".join(data)  # chunks, as the adapters take
        self.tree[path] = ("file", mode, bytes(whole))

    def put_many(self, items) -> None:
        for path, load, mode in items:
            self.put(path, load(), mode)

    def put_stages(self, directory: str, stages, mode: int, remove=()) -> None:
        """One round trip, as the SSH adapter's one command: written in order, stopped at a failing path."""
        self._tree_op("put_stages", directory)
        self.makedirs(directory, 0o755)
        self.calls.pop()  # the directory comes with the same round trip
        for stage in stages:
            for name, load in stage:
                path = f"{directory}/{name}"
                if path in self.fail_paths:
                    raise HostError(self.host, f"{path}: {self.fail_paths[path]}")
                data = load()
                self.staged.append(("put", path))
                self.tree[path] = ("file", mode, bytes(data if isinstance(data, (bytes, bytearray)) else b"".join(data)))
        for name in remove:
            self.staged.append(("remove", f"{directory}/{name}"))
            for p in [p for p in self.tree if p == f"{directory}/{name}" or p.startswith(f"{directory}/{name}/")]:
                del self.tree[p]

    def symlink(self, target: str, path: str) -> None:
        self._tree_op("symlink", path)
        self._parent_must_exist(path)
        if path in self.tree:
            raise HostError(self.host, f"{path}: exists")
        self.tree[path] = ("link", 0o777, target)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._tree_op("chown", path)
        if path not in self.tree:
            raise HostError(self.host, f"{path}: no such file")
        self.owners[path] = (uid, gid)

    def rename(self, source: str, destination: str) -> None:
        self._tree_op("rename", destination)
        if source not in self.tree or destination in self.tree:
            raise HostError(self.host, f"renaming {source} to {destination}: no source or destination exists")
        for p in [p for p in self.tree if p == source or p.startswith(source + "/")]:
            self.tree[destination + p[len(source):]] = self.tree.pop(p)
            if p in self.owners:
                self.owners[destination + p[len(source):]] = self.owners.pop(p)

    def remove_tree(self, path: str) -> None:
        self._tree_op("remove_tree", path)
        for p in [p for p in self.tree if p == path or p.startswith(path.rstrip("/") + "/")]:
            del self.tree[p]
            self.owners.pop(p, None)


@dataclass
class _Container:
    id: str
    request: ContainerRequest
    hosts_path: str
    inode: _Inode
    state: str = "created"
    health: Optional[str] = None
    image_id: Optional[str] = None
    exit_code: Optional[int] = None  # set once it exited (a stop gives 0, as its status says)

    def view_hosts(self) -> str:
        """The hosts file as the process inside the container sees it (through its inode)."""
        return self.inode.data.decode()


class FakeNetwork:
    """The flat network: each address is held by at most one container, cluster-wide."""

    def __init__(self):
        self._lock = threading.Lock()
        self.holders: Dict[str, str] = {}

    def attach(self, ip: str, container_id: str) -> bool:
        with self._lock:
            if ip in self.holders:
                return False
            self.holders[ip] = container_id
            return True

    def detach(self, container_id: str) -> None:
        with self._lock:
            for ip in [ip for ip, holder in self.holders.items() if holder == container_id]:
                del self.holders[ip]


_RENDERED: Dict[int, Tuple[tuple, Tuple[bytes, ...]]] = {}  # id(extra_hosts) -> (them, their lines in pieces)
_TAILS: List[Tuple[tuple, bytes]] = []  # (pairs, their lines): long tails that lists of many services share


def _extra_pieces(extra_hosts: tuple) -> Tuple[bytes, ...]:
    """Docker's lines for ``extra_hosts``, in pieces. The replicas of a service share one tuple of
    them, so each is rendered once (the tuple is kept, so its id is not reused); and the lists of a
    large project's services differ in their first lines only, so a long tail is rendered once."""
    found = _RENDERED.get(id(extra_hosts))
    if found is not None and found[0] is extra_hosts:
        return found[1]
    if len(_RENDERED) > 16:
        _RENDERED.clear()
    # the tail: the last multiple of 4096 pairs after the first 4096 (where the lists differ)
    cut = len(extra_hosts) - max(0, (len(extra_hosts) - 4096) // 4096) * 4096
    head, tail = extra_hosts[:cut], extra_hosts[cut:]
    tail_lines = next((lines for pairs, lines in _TAILS if pairs == tail), None) if tail else b""
    if tail_lines is None:
        tail_lines = _lines(tail)
        _TAILS[:] = _TAILS[-7:] + [(tail, tail_lines)]
    made = (_lines(head), tail_lines)
    _RENDERED[id(extra_hosts)] = (extra_hosts, made)
    return made


def _lines(pairs: tuple) -> bytes:
    return "".join(f"{address}\t{name}\n" for name, address in pairs).encode()


class FakeEngine:
    """ContainerEngine of one host, kept in memory."""

    def __init__(self, host: str, fs: FakeFS, network: FakeNetwork, now=None):
        self.host = host
        self.now = now or (lambda: 0.0)  # the engine's clock, which stamps its events
        self.event_log: List[ContainerEvent] = []
        self.fs = fs
        self.network = network
        self.containers: Dict[str, _Container] = {}
        self.unreachable: Optional[str] = None
        self.failures: Dict[Tuple[str, str], str] = {}  # (operation, container name) -> cause
        self.health_script: Dict[str, List[str]] = {}  # container name -> successive health answers
        # container name -> the code it exits with as soon as it starts (a one-shot job)
        self.exits_on_start: Dict[str, int] = {}
        # container name -> what each listing of it while it runs finds: None still runs, a code exits
        self.exit_script: Dict[str, List[Optional[int]]] = {}
        self.calls: List[Tuple[str, str]] = []
        self.images: Dict[str, Optional[str]] = {}  # reference -> id (None: absent); see image_id
        self.stop_timeouts: List[Tuple[str, Optional[float]]] = []  # (container name, timeout) per stop
        self.signals: List[Tuple[str, str]] = []  # (container name, signal) per kill
        self.log_lines: Dict[str, List[str]] = {}  # container name -> its output
        self.log_windows: List[Tuple[str, Optional[float], Optional[float]]] = []  # (name, since, until) per read
        self.execs: List[Tuple[str, Tuple[str, ...]]] = []
        self.interrupt_on_attach: Set[str] = set()  # container names whose attached run gets a Ctrl-C
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.volumes: Set[str] = set()
        self.registry: Optional["FakeRegistry"] = None  # set by FakeWorld: the registries every host reaches
        self.repo_digests_of: Dict[str, Set[str]] = {}  # image id -> its "repo@digest" names
        self.pulled: List[Tuple[str, Optional[str]]] = []  # (reference, username sent) per pull

    # -- test controls
    def fail(self, operation: str, name: str, cause: str = "injected failure") -> None:
        self.failures[(operation, name)] = cause

    def exit(self, name: str, code: int) -> None:
        """The container ``name`` ends by itself with ``code``, as its process returned."""
        container = self.by_name(name)
        container.state, container.exit_code = "exited", code
        self.network.detach(container.id)
        self.record(container, "die", code)

    def record(self, container: "_Container", action: str, exit_code: Optional[int] = None) -> None:
        labels = dict(container.request.labels)
        self.event_log.append(ContainerEvent(self.now(), self.host, container.id, container.request.name, action,
                                             self._replica(labels), exit_code))

    def retag(self, reference: str, new_id: Optional[str]) -> None:
        """Point ``reference`` at another image id on this host, as a build or pull does; None removes it."""
        self.images[reference] = new_id

    def _current_image(self, reference: str) -> Optional[str]:
        # An image never retagged is present, with an id of its own that is the same on every host;
        # an image named by digest only once it was pulled (a digest comes from a registry).
        if "@" in reference:
            return self.images.get(reference)
        return self.images.get(reference, f"sha256:{reference}-0")

    def by_name(self, name: str) -> _Container:
        for container in self.containers.values():
            if container.request.name == name:
                return container
        raise KeyError(name)

    def _guard(self, operation: str, name: str) -> None:
        if self.unreachable:
            raise HostError(self.host, f"cannot connect to the Docker engine: {self.unreachable}")
        self.calls.append((operation, name))
        cause = self.failures.get((operation, name))
        if cause:
            raise HostError(self.host, f"{operation} {name}: {cause}")

    def _get(self, container_id: str, operation: str) -> _Container:
        container = self.containers.get(container_id)
        self._guard(operation, container.request.name if container else container_id)
        if container is None:
            raise HostError(self.host, f"{operation} {container_id}: no such container")
        return container

    # -- the port
    def list_containers(self, project: Optional[str] = None) -> List[ObservedContainer]:
        self._guard("list", project or "")
        found = []
        for container in list(self.containers.values()):
            script = self.exit_script.get(container.request.name)
            if script and container.state == "running":
                code = script.pop(0)
                if code is not None:
                    self.exit(container.request.name, code)
            labels = dict(container.request.labels)
            if project is not None and labels.get("com.docker.compose.project") != project:
                continue
            found.append(self._observe(container, labels))
        return sorted(found, key=lambda c: c.name)

    @staticmethod
    def _replica(labels) -> Replica:
        return Replica(labels["com.docker.compose.project"], labels["com.docker.compose.service"],
                       int(labels["com.docker.compose.container-number"]))

    def _observe(self, container: _Container, labels) -> ObservedContainer:
        replica = self._replica(labels)
        spec = container.request.spec
        ports = tuple(f"0.0.0.0:{p.host_port}->{p.container_port}/{p.protocol}"
                      for p in spec.ports if p.host_port)
        return ObservedContainer(
            host=self.host, id=container.id, name=container.request.name, replica=replica,
            config_hash=labels.get("com.docker.compose.config-hash"), state=container.state,
            ip=labels.get("io.nap-compose.address"), alloc_id=labels.get("io.nap-compose.alloc-id"),
            health=container.health, ports=ports, image=container.request.image,
            image_id=container.image_id, generation=parse_generation(labels.get(GENERATION_LABEL)),
            status={"running": "Up", "created": "Created", "paused": "Up (Paused)"}.get(container.state,
                                                                f"Exited ({container.exit_code or 0})"),
            exit_code=(container.exit_code or 0) if container.state == "exited" else None,
            command=" ".join(spec.command or ()), labels=tuple(sorted(labels.items())),
            mounts=spec.named_volumes, local_volumes=len(spec.named_volumes),
            networks=(container.request.network,), one_off=labels.get("com.docker.compose.oneoff") == "True")

    def create_container(self, request: ContainerRequest) -> str:
        self._guard("create", request.name)
        with self._lock:
            if any(c.request.name == request.name for c in self.containers.values()):
                raise HostError(self.host, f"create {request.name}: 409 Conflict (name already in use)")
            if self._current_image(request.image) is None:
                raise HostError(self.host, f"create {request.name}: No such image: {request.image}")
            container_id = f"{self.host}-{next(self._ids):04d}"
            path = f"/var/lib/docker/{self.host}/containers/{container_id}/hosts"
            inode = self.fs.create(path, b"")
            health = "starting" if request.spec.healthcheck else None
            self.containers[container_id] = _Container(container_id, request, path, inode, health=health,
                                                       image_id=self._current_image(request.image))
            # Docker makes a missing named volume on create; it stays when the container goes.
            self.volumes.update(request.spec.named_volumes)
            return container_id

    def network_view(self, network: str) -> NetworkView:
        """The running containers attached to ``network`` (the fake's one network has no ip-range)."""
        self._guard("network", network)
        attached = sorted((c for c in self.containers.values()
                           if c.state == "running" and c.request.network == network), key=lambda c: c.request.name)
        return NetworkView(self.host, True, None, tuple(Endpoint(self.host, c.request.name, c.id, c.request.ip,
                                                                  c.request.labels) for c in attached))

    def volume_names(self) -> List[str]:
        self._guard("volumes", "")
        return sorted(self.volumes)

    def list_volumes(self):
        """(name, driver) of every volume, as ``DayTwo.list_volumes`` answers."""
        return sorted((name, "local") for name in self.volumes)

    def remove_volume(self, name: str) -> bool:
        self._guard("remove volume", name)
        users = sorted(c.request.name for c in self.containers.values() if name in c.request.spec.named_volumes)
        if users:
            raise VolumeInUseError(self.host, f"remove volume {name}: volume is in use - [{', '.join(users)}]")
        if name not in self.volumes:
            return False
        self.volumes.discard(name)
        return True

    def port(self, container_id: str, private: str):
        container = self._get(container_id, "port")
        return [("0.0.0.0", str(p.host_port)) for p in container.request.spec.ports
                if p.host_port and f"{p.container_port}/{p.protocol}" == private]

    def version(self):
        self._guard("version", "")
        return {"Version": "99.0-fake", "ApiVersion": "1.99"}

    def top(self, container_id: str):
        container = self._get(container_id, "top")
        return ("PID", "CMD"), (("1", " ".join(container.request.spec.command or ("sleep",))),)

    def stats(self, container_id: str):
        self._get(container_id, "stats")
        return {"memory_stats": {"usage": 1 << 20, "limit": 1 << 30}, "pids_stats": {"current": 1}}

    def watch_events(self, project: str, since=None, until=None):
        self._guard("events", project)
        return iter([e for e in self.event_log if e.replica is not None and e.replica.project == project
                     and (since is None or e.time >= since) and (until is None or e.time <= until)])

    def pause_container(self, container_id: str) -> None:
        container = self._get(container_id, "pause")
        if container.state != "running":
            raise HostError(self.host, f"pause {container.request.name}: container is not running")
        container.state = "paused"

    def unpause_container(self, container_id: str) -> None:
        container = self._get(container_id, "unpause")
        if container.state != "paused":
            raise HostError(self.host, f"unpause {container.request.name}: container is not paused")
        container.state = "running"

    def start_container(self, container_id: str) -> None:
        container = self._get(container_id, "start")
        # As Docker does: a container holds its address while it runs, not while it merely exists.
        if container.state != "running" and not self.network.attach(container.request.ip, container_id):
            raise HostError(self.host, f"start {container.request.name}: address {container.request.ip} "
                                       "already in use")
        # Docker rebuilds the hosts file on every start: its own lines, ExtraHosts, the container.
        own = f"{container.request.ip}\t{container.id[:12]}\n"
        container.inode.put_pieces((DOCKER_HOSTS.encode(),) + _extra_pieces(container.request.extra_hosts)
                                   + (own.encode(),))
        container.state, container.exit_code = "running", None
        self.record(container, "start")
        if container.request.name in self.exits_on_start:
            self.exit(container.request.name, self.exits_on_start[container.request.name])

    def stop_container(self, container_id: str, timeout: Optional[float] = None) -> None:
        container = self._get(container_id, "stop")
        was_running = container.state == "running"
        self.stop_timeouts.append((container.request.name, timeout))
        if container.state != "exited":
            container.exit_code = 0
        container.state = "exited"
        self.network.detach(container_id)
        if was_running:
            self.record(container, "die", 0)
            self.record(container, "stop")

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        container = self._get(container_id, "kill")
        self.signals.append((container.request.name, signal))
        if signal in ("SIGKILL", "KILL", "9", "SIGTERM", "TERM", "15"):
            container.state = "exited"
            self.network.detach(container_id)

    def rename_container(self, container_id: str, name: str) -> None:
        container = self._get(container_id, "rename")
        with self._lock:
            if any(c.request.name == name for c in self.containers.values() if c is not container):
                raise HostError(self.host, f"rename {container.request.name}: 409 Conflict (name {name} in use)")
            container.request = replace(container.request,
                                        spec=replace(container.request.spec, container_name=name))

    def logs(self, container_id: str, follow: bool = False, tail: Optional[int] = None,
             timestamps: bool = False, since: Optional[float] = None, until: Optional[float] = None):
        container = self._get(container_id, "logs")
        self.log_windows.append((container.request.name, since, until))
        lines = self.log_lines.get(container.request.name, [])
        return iter(lines if tail is None else lines[len(lines) - tail:] if tail else [])

    def exec(self, container_id: str, cmd, tty: bool = False, write=None) -> int:
        container = self._get(container_id, "exec")
        self.execs.append((container.request.name, tuple(cmd)))
        if write is not None:
            write(" ".join(cmd).encode() + b"\n")
        return 0

    def exec_attached(self, container_id: str, request, streams) -> int:
        """Echoes its command and then what it read from stdin to stdout; exits with ``exec_codes``'s
        code for its command (0 when not given)."""
        container = self._get(container_id, "exec")
        self.execs.append((container.request.name, tuple(request.cmd)))
        if request.detach:
            return 0
        streams.out(" ".join(request.cmd).encode() + b"\n")
        if request.stdin:
            for chunk in iter(streams.read, b""):
                streams.out(chunk)
        return getattr(self, "exec_codes", {}).get(tuple(request.cmd), 0)

    def attach(self, container_id: str, tty: bool, stdin: bool):
        container = self._get(container_id, "attach")
        engine = self

        class _Attachment:
            def pump(self, streams) -> None:
                if container.request.name in engine.interrupt_on_attach:
                    raise KeyboardInterrupt  # the operator's Ctrl-C while it runs
                for line in engine.log_lines.get(container.request.name, []):
                    streams.out(line.encode() + b"\n")

            def close(self) -> None:
                pass

        return _Attachment()

    def wait(self, container_id: str) -> int:
        container = self._get(container_id, "wait")
        if container.state == "running":
            self.exit(container.request.name, self.exits_on_start.get(container.request.name, 0))
        return container.exit_code or 0

    def resize(self, container_id: str, rows: int, columns: int) -> None:
        self._get(container_id, "resize")

    def remove_container(self, container_id: str, force: bool = False, volumes: bool = False) -> None:
        container = self._get(container_id, "remove")
        if volumes:
            self.calls.append(("remove anonymous volumes", container.request.name))
        if container.state == "running" and not force:
            raise HostError(self.host, f"remove {container.request.name}: container is running")
        with self._lock:
            del self.containers[container_id]
        self.network.detach(container_id)
        self.fs.remove(container.hosts_path)

    def hosts_path(self, container_id: str) -> str:
        return self._get(container_id, "hosts_path").hosts_path

    def health(self, container_id: str) -> Optional[str]:
        container = self._get(container_id, "health")
        script = self.health_script.get(container.request.name)
        if script:
            container.health = script.pop(0) if len(script) > 1 else script[0]
        elif container.health == "starting":
            container.health = "healthy"
        return container.health

    def image_present(self, reference: str) -> bool:
        self._guard("image_present", reference)
        return self._current_image(reference) is not None

    def image_id(self, reference: str) -> Optional[str]:
        self._guard("image_id", reference)
        return self._current_image(reference)

    def repo_digests(self, reference: str) -> Optional[Tuple[str, ...]]:
        self._guard("repo_digests", reference)
        found = self._current_image(reference)
        return tuple(sorted(self.repo_digests_of.get(found, ()))) if found else None

    def registry_digest(self, reference: str, auth=None) -> str:
        self._guard("registry_digest", reference)
        return self.registry.resolve(self.host, reference, auth)

    def pull(self, reference: str, auth=None, progress=None) -> None:
        self._guard("pull", reference)
        ref = parse_image(reference)
        digest = ref.digest or self.registry.resolve(self.host, reference, auth)
        self.registry.check(self.host, ref.registry, auth)
        image_id = self.registry.ids.get(digest)
        if image_id is None:
            raise HostError(self.host, f"pull from registry {ref.registry} {reference}: manifest unknown")
        with self._lock:
            self.pulled.append((reference, auth.username if auth is not None else None))
            self.images[ref.at(digest)] = image_id
            if not ref.digest:
                self.images[str(ref)] = image_id
            self.repo_digests_of.setdefault(image_id, set()).add(ref.at(digest))
        if progress is not None:
            progress("layer0 Pull complete")

    def tag_image(self, source: str, target: str) -> None:
        self._guard("tag_image", target)
        found = self._current_image(source)
        if found is None:
            raise HostError(self.host, f"tag {source} as {target}: no such image")
        self.images[target] = found

    def push(self, reference: str, auth=None) -> str:
        self._guard("push", reference)
        image_id = self._current_image(reference)
        if image_id is None:
            raise HostError(self.host, f"push {reference}: no such image")
        ref = parse_image(reference)
        self.registry.check(self.host, ref.registry, auth)
        digest = self.registry.store(reference, image_id)
        with self._lock:
            self.repo_digests_of.setdefault(image_id, set()).add(ref.at(digest))
            self.images[ref.at(digest)] = image_id  # Docker finds a pushed image by its digest too
        return digest

    def events(self, since: float, until: float) -> List[ContainerEvent]:
        self._guard("events", "")
        return sorted((e for e in self.event_log if since <= e.time <= until),
                      key=lambda e: (e.time, e.container_id, e.action))


class FakeImages:
    """ImageTransfer over the FakeEngines: a build gives a new id, a copy carries the source's id."""

    def __init__(self, engines: Dict[str, "FakeEngine"]):
        self.engines = engines
        self.calls: List[Tuple[str, ...]] = []
        self.failures: Dict[Tuple[str, str, str], str] = {}  # (operation, image, host) -> cause
        self._builds = itertools.count(1)

    def _check(self, operation: str, image: str, host: str) -> None:
        engine = self.engines[host]
        if engine.unreachable:
            raise HostError(host, f"cannot connect to the Docker engine: {engine.unreachable}")
        cause = self.failures.get((operation, image, host))
        if cause:
            raise HostError(host, f"{operation} {image}: {cause}")

    def build(self, host: str, spec, tag: str, no_cache: bool = False) -> str:
        self._check("build", tag, host)
        self.calls.append(("build", tag, host))
        new_id = f"sha256:{tag}-built-{next(self._builds)}"
        self.engines[host].images[tag] = new_id
        return new_id

    def copy(self, image: str, source: str, target: str) -> None:
        self._check("copy", image, target)
        self.calls.append(("copy", image, source, target))
        found = self.engines[source]._current_image(image)
        if found is None:
            raise HostError(source, f"image {image} is not there to copy")
        self.engines[target].images[image] = found

    def image_id(self, host: str, image: str) -> Optional[str]:
        self._check("image_id", image, host)
        return self.engines[host]._current_image(image)


class FakeRegistry:
    """Every registry the hosts reach, in memory: which digest each (repository, tag) names, which image
    id each digest is, and the registries that want a user and password."""

    def __init__(self):
        self.tags: Dict[Tuple[str, str], str] = {}
        self.ids: Dict[str, str] = {}  # digest -> image id
        self.users: Dict[str, Tuple[str, str]] = {}  # registry -> (user, password) it requires
        self.asked: List[Tuple[str, str]] = []  # (host, reference) per digest question
        self._lock = threading.Lock()

    def require(self, registry: str, user: str, password: str) -> None:
        self.users[registry] = (user, password)

    def publish(self, reference: str, content: str = "v1") -> str:
        """Push new content under ``reference``'s tag (moving it when it named other content); its digest."""
        image_id = "sha256:" + hashlib.sha256(f"id {reference} {content}".encode()).hexdigest()
        return self.store(reference, image_id)

    def store(self, reference: str, image_id: str) -> str:
        ref = parse_image(reference)
        digest = "sha256:" + hashlib.sha256(f"manifest {ref.repository} {image_id}".encode()).hexdigest()
        with self._lock:
            self.ids[digest] = image_id
            self.tags[(ref.repository, ref.tag or "latest")] = digest
        return digest

    def check(self, host: str, registry: str, auth) -> None:
        wanted = self.users.get(registry)
        if wanted is not None and (auth is None or (auth.username, auth.password) != wanted):
            raise HostError(host, f"ask registry {registry}: unauthorized: authentication required")

    def resolve(self, host: str, reference: str, auth) -> str:
        ref = parse_image(reference)
        with self._lock:
            self.asked.append((host, reference))
        self.check(host, ref.registry, auth)
        digest = self.tags.get((ref.repository, ref.tag or "latest"))
        if digest is None:
            raise HostError(host, f"ask registry {ref.registry} for {reference}: manifest unknown")
        return digest


class FakeWorld:
    """Hosts with engines and files over one file system and one network."""

    def __init__(self, hosts, clock=None):
        self.fs = FakeFS()
        self.network = FakeNetwork()
        now = clock.now if clock is not None else None
        self.engines = {h: FakeEngine(h, self.fs, self.network, now) for h in hosts}
        self.registry = FakeRegistry()
        for engine in self.engines.values():
            engine.registry = self.registry
        self.files_by_host = {h: FakeFiles(h, self.fs) for h in hosts}
        self.files_opened: List[str] = []
        self.images = FakeImages(self.engines)
        self.bridge = FakeBridgeFilter(self.engines)

    def files(self, host: str) -> FakeFiles:
        self.files_opened.append(host)
        return self.files_by_host[host]

    def all_containers(self) -> List[_Container]:
        return [c for e in self.engines.values() for c in e.containers.values()]

    def container(self, name: str) -> _Container:
        for engine in self.engines.values():
            try:
                return engine.by_name(name)
            except KeyError:
                pass
        raise KeyError(name)

    def host_of(self, name: str) -> str:
        for host, engine in self.engines.items():
            if any(c.request.name == name for c in engine.containers.values()):
                return host
        raise KeyError(name)


class FakeBridgeFilter:
    """BridgeFilter over the fake engines: a running container's port is ``veth`` + the first 7
    characters of its id, its MAC ``02:42`` + its address; each host's table is kept as the text
    loaded, and listed as loaded."""

    def __init__(self, engines: Dict[str, "FakeEngine"]):
        self.engines = engines
        self.tables: Dict[str, str] = {}
        self.loads: List[str] = []  # host per load
        self.announced: List[Tuple[str, str]] = []  # (host, address)
        self.started_ids: List[Tuple[str, str]] = []  # (host, container id) the run said it started
        self.failures: Dict[str, str] = {}  # host -> why every call there fails

    def _guard(self, host: str) -> None:
        if host in self.failures:
            raise HostError(host, self.failures[host])

    @staticmethod
    def mac_of(ip: str) -> str:
        return "02:42:" + ":".join(f"{int(part):02x}" for part in ip.split("."))

    def ports(self, host: str, containers):
        from napcompose.model import BridgePort

        self._guard(host)
        engine = self.engines[host]
        found = []
        for container_id in containers:
            container = engine.containers.get(container_id)
            if container is not None and container.state == "running":
                ip = container.request.ip
                found.append(BridgePort(f"veth{container.id[:7]}", ip, self.mac_of(ip)))
        return sorted(found)

    def started(self, host: str, container_id: str) -> None:
        self.started_ids.append((host, container_id))

    def load(self, host: str, ruleset: str) -> None:
        self._guard(host)
        self.loads.append(host)
        if "table bridge nap_compose {" in ruleset:
            self.tables[host] = ruleset
        else:
            self.tables.pop(host, None)

    def loaded(self, host: str) -> Optional[str]:
        """The table as loaded (nft lists it in the same words, wrapping long sets)."""
        self._guard(host)
        text = self.tables.get(host)
        return None if text is None else text[text.index("table bridge nap_compose {"):]

    def announce(self, host: str, containers) -> None:
        self._guard(host)
        self.announced.extend((host, ip) for _, ip in containers)


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def make_ipam(cluster, clock, store=None):
    """The real Ipam over an in-memory store; allocation ids count up so runs are repeatable."""
    from napcompose.ipam import Ipam, Pool
    from tests.fakes_kv import MemoryKV

    ids = itertools.count(1)
    return Ipam(store if store is not None else MemoryKV(), Pool.from_cluster(cluster), "/nap-compose", clock,
                lambda: f"alloc-{next(ids)}")
