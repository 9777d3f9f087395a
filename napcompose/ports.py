"""The side effects the core needs, as small Protocols.

The core (config, graph, placement, ipam, hostsfile, planner, orchestrator) only ever talks to these.
``napcompose.adapters`` implements them with docker-py, python-etcd, a JSON file and paramiko;
``tests/fakes.py`` implements them in memory. They speak model types and nap-compose errors only.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Union

from napcompose.clustermodel import FoundNetwork, FoundResolver, NetworkOptions, NetworkView
from napcompose.errors import HostError
from napcompose.model import (Allocation, BridgePort, BuildSpec, ContainerEvent, ContainerRequest, ExecRequest,
                              ObservedContainer, RegistryAuth)


class KeyValueStore(Protocol):
    """A consistent key/value store with atomic create-if-absent and compare-and-delete.

    Values are strings; each key has a modification index (``version``) that changes on every write.
    Raises StoreError when the store cannot be reached.
    """

    def get(self, key: str) -> Optional[Tuple[str, int]]:
        """Return (value, version) read with quorum, or None when the key is absent."""

    def create(self, key: str, value: str) -> Optional[int]:
        """Create ``key`` only if absent. Return its version, or None if the key already existed.

        When the reply is lost after the request was sent, the adapter resolves the outcome by
        reading the key back rather than guessing.
        """

    def compare_and_swap(self, key: str, value: str, version: int) -> Optional[int]:
        """Replace the value only if the key is still at ``version``; return the new version or None."""

    def compare_and_delete(self, key: str, version: int) -> bool:
        """Delete ``key`` only if it is still at ``version``; False when it changed or is gone."""

    def list(self, prefix: str) -> Dict[str, Tuple[str, int]]:
        """Every key under ``prefix`` (recursively) with its (value, version)."""


class AtomicCreate(Protocol):
    """An optional capability of a KeyValueStore: several keys created in one step, all or none.

    Stores with multi-key transactions (etcd's v3 API) offer it; callers look for ``create_all`` and
    fall back to one ``create`` per key when it is absent (etcd's v2 API, the file store).
    """

    def create_all(self, pairs: Sequence[Tuple[str, str]]) -> Optional[int]:
        """Create every (key, value) only if none of the keys exists, atomically.

        Return the version the new keys share, or None when any key existed (then nothing was
        written). A lost reply is resolved by reading the keys back, as for ``create``.
        """


class ContainerEngine(Protocol):
    """One host's Docker engine. Every method raises HostError naming the host on failure."""

    host: str

    def list_containers(self, project: Optional[str] = None) -> List[ObservedContainer]:
        """Containers with nap-compose labels (all of them when ``project`` is None), stopped ones too."""

    def network_view(self, network: str) -> NetworkView:
        """The named network as this host reports it: its ip-range and the containers attached."""
        ...

    def volume_names(self) -> List[str]:
        """The names of the volumes on this host (a named volume lives on the host that made it)."""

    def create_container(self, request: "ContainerRequest") -> str:
        """Create (not start) the container described by ``request``; return its id."""

    def start_container(self, container_id: str) -> None:
        ...

    def stop_container(self, container_id: str, timeout: Optional[float] = None) -> None:
        ...

    def remove_container(self, container_id: str, force: bool = False, volumes: bool = False) -> None:
        """Remove the container; ``volumes``: its anonymous volumes with it (``rm -v``)."""

    def hosts_path(self, container_id: str) -> str:
        """The container's hosts file on its host (Docker's HostsPath)."""

    def health(self, container_id: str) -> Optional[str]:
        """starting | healthy | unhealthy, or None when the container has no healthcheck."""

    def image_present(self, reference: str) -> bool:
        ...

    def image_id(self, reference: str) -> Optional[str]:
        """The id ("sha256:...") of the image ``reference`` names on this host; None when absent."""

    def repo_digests(self, reference: str) -> Optional[Tuple[str, ...]]:
        """The ``RepoDigests`` (``repo@sha256:…``) of the image ``reference`` names here: () for an
        image never pulled or pushed (built or loaded here), None when the host has no such image."""

    def registry_digest(self, reference: str, auth: Optional[RegistryAuth] = None) -> str:
        """The digest the registry serves for ``reference`` now, asked through this host's daemon
        (its trust settings apply); pulls nothing. HostError naming the registry when it refuses."""

    def pull(self, reference: str, auth: Optional[RegistryAuth] = None,
             progress: Optional[Callable[[str], None]] = None) -> None:
        """Pull ``reference`` from its registry; ``progress`` gets one short line per layer step."""

    def tag_image(self, source: str, target: str) -> None:
        """Give the local image ``source`` the name ``target`` (``repository:tag``) as well."""

    def push(self, reference: str, auth: Optional[RegistryAuth] = None) -> str:
        """Push the local image ``reference`` (a tag) to its registry; return the digest it got there."""

    def events(self, since: float, until: float) -> List[ContainerEvent]:
        """Container start, stop and die events stamped in [since, until] (epoch seconds), oldest first.

        ``until`` must not lie in the future: the engine answers once it has passed, so a caller that
        polls asks for the span since its last call up to now.
        """

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Send ``signal`` (a name such as SIGKILL or SIGHUP, or a number) to the container's process."""

    def rename_container(self, container_id: str, name: str) -> None:
        """Give the container another name (its labels, image, config and address stay)."""

    def logs(self, container_id: str, follow: bool = False, tail: Optional[int] = None,
             timestamps: bool = False, since: Optional[float] = None,
             until: Optional[float] = None) -> Iterator[str]:
        """The container's output, one line at a time (without the newline); ``since``/``until``
        (epoch seconds) keep only the lines written in that span."""

    def exec(self, container_id: str, cmd: Sequence[str], tty: bool = False,
             write: Optional[Callable[[bytes], None]] = None) -> int:
        """Run ``cmd`` (a list, never a shell string) in the container; stream its output to ``write``;
        return its exit code."""

    def exec_attached(self, container_id: str, request: ExecRequest, streams: AttachedStreams) -> int:
        """Run ``request`` in the container with the operator's streams attached (stdin as asked, a
        terminal sized from ``streams``); its exit code once its output ended (0 when detached)."""

    def attach(self, container_id: str, tty: bool, stdin: bool) -> Attachment:
        """Attach to the created container's streams; start it after this and then ``pump``."""

    def wait(self, container_id: str) -> int:
        """Wait until the container stops; its exit code."""

    def resize(self, container_id: str, rows: int, columns: int) -> None:
        """Size the container's pseudo-terminal."""


class AttachedStreams(Protocol):
    """The operator's side of a process attached over the host's connection (``exec``, ``run``)."""

    def read(self) -> bytes:
        """The next chunk of stdin as it comes; b"" at its end."""

    def out(self, data: bytes) -> None:
        """Bytes of the process's stdout (everything it prints, with a tty)."""

    def err(self, data: bytes) -> None:
        """Bytes of the process's stderr."""

    def size(self) -> Optional[Tuple[int, int]]:
        """(rows, columns) of the operator's terminal now; None without one."""

    def on_resize(self, resize: Callable[[int, int], None]) -> None:
        """Call ``resize(rows, columns)`` whenever the operator's terminal changes size, until the end."""


class Attachment(Protocol):
    """A container's streams, attached before it starts (so its first byte is caught)."""

    def pump(self, streams: AttachedStreams) -> None:
        """Carry stdin in and the output out until the container's output ends."""

    def close(self) -> None:
        ...


class DayTwo(Protocol):
    """What the commands a user types on a running project ask one host's engine (``volumes``,
    ``pause``, ``top``, ``stats``, ``port``, ``events``, ``version``, ``cp``). A ContainerEngine
    that offers them offers all of them; every method raises HostError naming the host."""

    def list_volumes(self) -> List[Tuple[str, str]]:
        """(name, driver) of every volume on this host."""

    def remove_volume(self, name: str) -> bool:
        """Remove the volume; False when there was none. VolumeInUseError when a container uses it."""

    def pause_container(self, container_id: str) -> None:
        ...

    def unpause_container(self, container_id: str) -> None:
        ...

    def top(self, container_id: str) -> Tuple[Tuple[str, ...], Tuple[Tuple[str, ...], ...]]:
        """The container's processes: (column titles, rows), as ``docker top`` shows them."""

    def stats(self, container_id: str) -> Dict[str, object]:
        """One sample of the container's resource use (Docker's stats document)."""

    def port(self, container_id: str, private: str) -> List[Tuple[str, str]]:
        """(host address, host port) of every binding of ``private`` (``80/tcp``); [] when unpublished."""

    def version(self) -> Dict[str, str]:
        """The engine's version document (Version, ApiVersion, Os, Arch, ...)."""

    def watch_events(self, project: str, since: Optional[float] = None,
                     until: Optional[float] = None) -> Iterator[ContainerEvent]:
        """Every container event of ``project``'s containers, as they come (until ``until`` when given)."""

    def path_stat(self, container_id: str, path: str) -> Optional[Dict[str, object]]:
        """Docker's stat of ``path`` in the container (name, size, mode, linkTarget); None when absent."""

    def get_archive(self, container_id: str, path: str) -> Tuple[Iterator[bytes], Dict[str, object]]:
        """``path`` in the container as a tar stream (chunks, never the whole) and its stat."""

    def put_archive(self, container_id: str, path: str, chunks: Iterator[bytes]) -> None:
        """Unpack the tar stream ``chunks`` into the directory ``path`` of the container."""


class AddressBook(Protocol):
    """The cluster's addresses (``napcompose.ipam.Ipam`` over the store). Owners are ``project/service/N``.

    Raises IpamError (PoolExhaustedError, AddressTakenError, ...) or StoreError.
    """

    def allocations(self) -> List[Allocation]:
        """Every reserved address."""

    def lookup(self, owner: str) -> Optional[Allocation]:
        """The address ``owner`` holds, or None."""

    def ensure_many(self, requests: Sequence[Tuple[str, Optional[str], Optional[str]]],
                    vacated=None) -> List[Allocation]:
        """An address for every (owner, host, fixed address or None): the one it holds, else a new one.
        All or nothing: on failure what this call newly reserved is released again. An owner whose
        address is recorded on another host is refused (AddressFencedError) unless ``vacated`` (what
        a scan of the hosts saw, ``ipam.fencing.Vacated``) proves its container left that host."""

    def mark_bound(self, owner: str, host: str, generation: int = 1) -> Allocation:
        """Record that ``owner``'s container (copy number ``generation``) now exists on ``host``."""

    def mark_unbound(self, owner: str, host: str, generation: Optional[int] = None) -> Optional[Allocation]:
        """Record that ``owner``'s container on ``host`` (copy number ``generation``, when known) was
        removed; the address stays the owner's. A record bound to a newer copy is left as it is."""

    def release_owner(self, owner: str) -> Optional[Allocation]:
        """Release what ``owner`` holds; return it (None when it held nothing)."""

    def strand(self, owner: str, left_owner: str, host: str, ip: str) -> Allocation:
        """Keep ``owner``'s address ``ip`` on ``host`` under ``left_owner`` (state ``stranded``) for
        the copy left on that unreachable host; ``owner`` is then free to reserve a new address."""

    def unstrand(self, left_owner: str, owner: str, host: str, ip: str) -> Allocation:
        """Give ``ip`` kept under ``left_owner`` back to ``owner`` (bound); ``owner`` holds nothing else."""


class BridgeFilter(Protocol):
    """Each host's bridge filter (nftables' bridge family, a table of nap-compose's own) and its
    containers' ports on the bridge. Every method raises HostError naming the host."""

    def ports(self, host: str, containers: Sequence[str]) -> List[BridgePort]:
        """The bridge port of each of ``containers`` (ids) that runs and has one, with its address and MAC."""

    def started(self, host: str, container_id: str) -> None:
        """``container_id`` was just started on ``host`` by this command: an adapter may look its port
        up now, beside the run (``ports`` answers for it all the same). Never raises."""

    def load(self, host: str, ruleset: str) -> None:
        """Load ``ruleset`` (nft's language) in one transaction."""

    def loaded(self, host: str) -> Optional[str]:
        """nft's listing of nap-compose's table (``nft list table``), None when the host has none."""

    def announce(self, host: str, containers: Sequence[Tuple[str, str]]) -> None:
        """Unsolicited ARP for each (container id, address), sent from the container's network
        namespace, several times a little apart; nothing where the engine announces at start itself."""


class ImageTransfer(Protocol):
    """Putting images on hosts without a registry: build on one, copy between two (save → load).

    Every method raises HostError naming the host and the image.
    """

    def build(self, host: str, spec: BuildSpec, tag: str, no_cache: bool = False) -> str:
        """Build ``spec`` on ``host``'s daemon and tag it ``tag``; return the image id."""

    def copy(self, image: str, source: str, target: str) -> None:
        """Stream ``image`` from ``source``'s daemon into ``target``'s."""

    def image_id(self, host: str, image: str) -> Optional[str]:
        """The id of ``image`` on ``host``, None when absent."""


class RemoteFiles(Protocol):
    """Files on one host, reached over SFTP (or the local file system for unix:// hosts)."""

    def read(self, path: str, max_bytes: Optional[int] = None) -> bytes:
        """The whole file. Raises HostError naming the host and path, also when it holds more than
        ``max_bytes`` (then no more than that is read: a file a container grew is never read whole)."""

    def write_in_place(self, path: str, data: bytes) -> None:
        """Replace the content of the existing file at ``path`` without replacing its inode.

        A container sees its hosts file through a bind mount of that inode, so a write to a
        temporary file followed by a rename would detach the container from the new content.
        """

    def read_many(self, paths: Sequence[str], max_bytes: int) -> List[Union[bytes, HostError]]:
        """``read`` of each path, in order: its bytes, or the HostError of that file alone (also when it
        holds more than ``max_bytes``); the others are read all the same. Adapters may read them at once."""

    def write_many_in_place(self, items: Sequence[Tuple[str, bytes]]) -> List[Optional[HostError]]:
        """``write_in_place`` of each (path, data), in order: None, or the HostError of that file alone."""

    # What shipping project files needs. Paths are absolute on the host; every method raises
    # HostError naming the host and path.

    def listdir(self, path: str) -> List[str]:
        """Names in the directory ``path``; [] when it does not exist."""

    def makedirs(self, path: str, mode: int) -> None:
        """Create ``path`` and missing parents (new ones get ``mode``); nothing when it exists."""

    def put(self, path: str, data: bytes, mode: int) -> None:
        """Create or replace the file ``path`` with ``data`` and permission bits ``mode``."""

    def put_many(self, items: Sequence[Tuple[str, Callable[[], bytes], int]]) -> None:
        """``put`` of every (path, load, mode); ``load()`` gives the content: bytes, or an iterable of
        byte chunks read as they are sent (a large file is never held whole). Adapters may run them at once."""

    def put_stages(self, directory: str, stages: Sequence[Sequence[Tuple[str, Callable[[], bytes]]]], mode: int,
                   remove: Sequence[str] = ()) -> None:
        """Make ``directory`` when absent; put each stage's (file name, load) in it with ``mode`` (a file
        already there is replaced in place), a stage wholly before the next; then remove the names in
        ``remove`` (absent ones are no error). Names are plain names in the directory, never paths.
        Adapters may send it all at once."""

    def symlink(self, target: str, path: str) -> None:
        ...

    def rename(self, source: str, destination: str) -> None:
        """Rename ``source`` to an absent ``destination``."""

    def chown(self, path: str, uid: int, gid: int) -> None:
        """Give the file ``path`` to ``uid``:``gid`` (numeric ids of the host)."""

    def remove_tree(self, path: str) -> None:
        """Remove ``path`` and everything under it (symlinks are removed, never followed); nothing when absent."""


class HostNetworks(Protocol):
    """The flat network and the names resolver on each host's Docker engine (``network create|rm``).

    Every method takes the host's name and raises HostError naming it (and the network, container
    or image) on failure.
    """

    def find_network(self, host: str, name: str) -> Optional[FoundNetwork]:
        """The network ``name`` on ``host``: its id, options and attached containers; None when absent."""

    def create_network(self, host: str, options: NetworkOptions) -> None:
        ...

    def remove_network(self, host: str, network_id: str) -> None:
        ...

    def find_resolver(self, host: str) -> Optional[FoundResolver]:
        """The names resolver's container on ``host``; None when there is none."""

    def resolver_image(self, host: str) -> Optional[str]:
        """The digest the resolver's image on ``host`` was made from ("" when unlabelled); None when absent."""

    def load_resolver_image(self, host: str) -> None:
        """Import the resolver's image made on this machine into ``host``'s daemon."""

    def start_resolver(self, host: str, container_id: str) -> None:
        ...

    def run_resolver(self, host: str, config: str, replace: Optional[str] = None) -> None:
        """Create and start the resolver on ``host`` labelled with ``config`` (its config digest),
        removing the container ``replace`` first when given."""


class Reporter(Protocol):
    """Where progress goes; only the CLI's implementation writes to a terminal."""

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        """One line of progress: ``Creating web_2 on node3 (198.18.0.102) ... done``."""

    def warning(self, message: str) -> None:
        """A non-fatal problem the user should see."""


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""

    def sleep(self, seconds: float) -> None:
        ...


class NullReporter:
    """A Reporter that drops everything; the default where nobody listens."""

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        pass

    def warning(self, message: str) -> None:
        pass


class ListReporter:
    """A Reporter that keeps every event; for tests and for collecting warnings."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, str, str, str]] = []
        self.warnings: List[str] = []

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        self.events.append((subject, action, status, detail))

    def warning(self, message: str) -> None:
        self.warnings.append(message)
