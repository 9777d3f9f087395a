"""The BridgeFilter port over each host's one SSH connection: nft, ip and nsenter with fixed argv.

Every command line is a constant program and arguments nap-compose made and checked itself
(process ids, IPv4 and MAC addresses, the cluster file's bridge name), joined with shlex.quote; the
ruleset travels on stdin (``nft -f -``), never on a command line. A container's process id comes
from its engine (inspect); its port on the bridge is the host-side veth whose index the
container's ``eth0`` names as its peer (``iflink`` in the container's own sysfs, or ``eth0@ifN`` from
``ip`` inside; ``N: vethX@ifM ... master br0`` on the host).

Unsolicited ARP is sent by a small fixed Python program, one per host, that opens a packet socket
in each container's network namespace (``setns``): the images need nothing, the host needs ``python3``.
Docker 28 and later announce a container's address at start themselves (moby #48808): there
nothing is sent.
"""

from __future__ import annotations

import re
import shlex
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.adapters.host_commands import run_command
from napcompose.adapters.sdk_errors import cause, sdk_errors
from napcompose.clustermodel import Cluster
from napcompose.errors import HostError, NapComposeError
from napcompose.model import BridgePort

ANNOUNCES = 3  # frames per address
ANNOUNCE_GAP_S = 0.2
INSPECTS_AT_ONCE = 8
ENGINE_ANNOUNCES_FROM = 28  # Docker major version that sends gratuitous ARP at start
NFT = "nft"
TABLE = ("bridge", "nap_compose")

# The bridge's ports first; then each container's eth0 as its own sysfs shows it (Docker mounts one
# made inside the container's network namespace at /sys): the peer's index and the MAC, read by the
# shell itself, no program started per container. A container whose sysfs does not answer, or shows
# another MAC than its engine gave it (a /sys of the host bound in, say), is asked again with
# nsenter and ip, PORTS_AT_ONCE at a time (each costs two programs started).
_PORTS_SCRIPT = r"""
ip -o link show master "$BRIDGE" 2>/dev/null | sed 's/^/host /'
for p in "$@"; do
  d=/proc/$p/root/sys/class/net/eth0
  { read -r i < "$d/iflink" && read -r m < "$d/address" && echo "sys $p $i $m"; } 2>/dev/null
done
true  # a container that did not answer is asked again with nsenter, not an error
"""
PORTS_AT_ONCE = 8
_NSENTER_SCRIPT = r"""
n=0
for p in "$@"; do
  ( line=$(nsenter -t "$p" -n ip -o link show dev eth0 2>/dev/null) && echo "pid $p $line" ) &
  n=$((n + 1))
  [ $((n % $AT_ONCE)) -eq 0 ] && wait
done
wait
"""

# An ARP request for the address itself (what ``arping -U`` sends): every bridge on the way learns
# the MAC's new port, every neighbour that knows the address updates its entry. One interpreter per
# host: it opens a packet socket inside each container's network namespace (setns), sends the first
# round at once, and leaves the later rounds to a detached child, so the command returns at once.
_ANNOUNCE_PROGRAM = r"""
import ctypes, os, socket, struct, sys, time
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
count, gap, args = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
home = os.open("/proc/self/ns/net", os.O_RDONLY)
sockets = []
for i in range(0, len(args) - 2, 3):
    pid, ip, mac = int(args[i]), args[i + 1], args[i + 2]
    hw, addr = bytes.fromhex(mac.replace(":", "")), socket.inet_aton(ip)
    frame = b"\xff" * 6 + hw + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + addr + b"\x00" * 6 + addr
    try:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    except OSError:
        continue
    try:
        if libc.setns(fd, CLONE_NEWNET) == 0:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind(("eth0", 0x0806))
            sockets.append((s, frame))
    except OSError:
        pass
    finally:
        os.close(fd)
        if libc.setns(home, CLONE_NEWNET) != 0:
            sys.exit("cannot return to the host's network namespace")
def send():
    for s, frame in sockets:
        try:
            s.send(frame)
        except OSError:
            pass
send()
print(len(sockets))
sys.stdout.flush()
if count > 1 and os.fork() == 0:
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for _ in range(count - 1):
        time.sleep(gap)
        send()
    os._exit(0)
"""

_INSIDE_RE = re.compile(r"^pid (\d+) \d+: eth0@if(\d+): .* link/ether ([0-9a-f:]{17}) ")
_SYSFS_RE = re.compile(r"^sys (\d+) (\d+) ([0-9a-f:]{17})$")
_HOST_RE = re.compile(r"^host (\d+): ([A-Za-z0-9_.-]{1,15})@[^:]*: ")
_IPV4_RE = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def parse_ports(output: str) -> Tuple[Dict[int, Tuple[int, str]], Dict[int, str]]:
    """The ports script's output: {pid: (peer index, MAC)} inside, {index: name} of the bridge's ports."""
    inside: Dict[int, Tuple[int, str]] = {}
    ports: Dict[int, str] = {}
    for line in output.splitlines():
        found = _INSIDE_RE.match(line) or _SYSFS_RE.match(line)
        if found:
            inside[int(found.group(1))] = (int(found.group(2)), found.group(3))
            continue
        found = _HOST_RE.match(line)
        if found:
            ports[int(found.group(1))] = found.group(2)
    return inside, ports


class SshBridgeFilter:
    """BridgeFilter over HostConnections (``ssh(host)``: paramiko client; ``docker(host)``: docker-py)."""

    def __init__(self, cluster: Cluster, connections):
        self.cluster = cluster
        self.connections = connections
        # what the last ``ports`` of each host found, container id -> (pid, address, MAC): the
        # announcement that follows a load uses it instead of inspecting each container again
        self._found: Dict[str, Dict[str, Tuple[int, str, str]]] = {}
        self._announces: Dict[str, bool] = {}  # host -> its engine announces at start itself
        # host -> container id -> the inspect ``started`` began: (pid, address, MAC) or None
        self._ahead: Dict[str, Dict[str, Future]] = {}
        self._pool: Optional[ThreadPoolExecutor] = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the port
    def started(self, host: str, container_id: str) -> None:
        # asked beside the run, so that the ports found at its end need no inspect of this one
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ports-ahead")
            self._ahead.setdefault(host, {})[container_id] = self._pool.submit(self._inspect, host, container_id)

    def ports(self, host: str, containers: Sequence[str]) -> List[BridgePort]:
        # the announcement that follows the load asks whether the engine announces itself: asked
        # now, beside the inspects, not after the load
        with ThreadPoolExecutor(max_workers=1) as asking:
            asking.submit(self._engine_announces, host)
            early = self._found_when_started(host, containers)
            fresh = [c for c in containers if c not in early]
            seen = dict(early)
            seen.update(zip(fresh, self._inspect_all(host, fresh)))
        seen = {c: found for c, found in seen.items() if found is not None}
        if not seen:
            return []
        inside, names = self._sysfs_ports(host, sorted({found[0] for found in seen.values()}))
        # a container found at its start that shows another MAC now (or none) restarted since, under
        # another process id: its engine is asked again
        stale = [c for c in early if c in seen and inside.get(seen[c][0], (0, ""))[1] != seen[c][2]]
        for container_id, found in zip(stale, self._inspect_all(host, stale)):
            if found is None:
                del seen[container_id]
            else:
                seen[container_id] = found
        unsure = sorted({found[0] for found in seen.values() if inside.get(found[0], (0, ""))[1] != found[2]})
        if unsure:
            script = _NSENTER_SCRIPT.replace("$AT_ONCE", str(PORTS_AT_ONCE))
            status, out, err = self._run(host, ["sh", "-c", script, "sh", *map(str, unsure)])
            if status != 0:
                raise HostError(host, f"cannot find the ports of {len(unsure)} container(s): {(err or out).strip()}")
            for pid in unsure:
                inside.pop(pid, None)
            inside.update(parse_ports(out)[0])
        found = [BridgePort(names[inside[pid][0]], ip, inside[pid][1])
                 for pid, ip, _ in seen.values() if pid in inside and inside[pid][0] in names]
        with self._lock:
            self._found[host] = {container_id: (pid, ip, inside[pid][1])
                                 for container_id, (pid, ip, _) in seen.items() if pid in inside}
        return sorted(found)

    def _found_when_started(self, host: str, containers: Sequence[str]) -> Dict[str, Tuple[int, str, str]]:
        """What the inspects begun by ``started`` found for ``containers`` (waited for), running ones only."""
        with self._lock:
            ahead = self._ahead.pop(host, {})
        found = {}
        for container_id in containers:
            future = ahead.get(container_id)
            if future is None:
                continue
            try:
                seen = future.result()
            except NapComposeError:
                continue  # asked again, now
            if seen is not None:
                found[container_id] = seen
        return found

    def _sysfs_ports(self, host: str, pids: Sequence[int]) -> Tuple[Dict[int, Tuple[int, str]], Dict[int, str]]:
        script = _PORTS_SCRIPT.replace("$BRIDGE", shlex.quote(self._bridge()))
        status, out, err = self._run(host, ["sh", "-c", script, "sh", *map(str, pids)])
        if status != 0:
            raise HostError(host, f"cannot list the ports of {self._bridge()}: {err.strip() or out.strip()}")
        return parse_ports(out)

    def load(self, host: str, ruleset: str) -> None:
        status, out, err = self._run(host, [NFT, "-f", "-"], stdin=ruleset)
        if status != 0:
            raise HostError(host, f"nft could not load nap-compose's bridge filter: {(err or out).strip()}"
                            + (" (is the nftables package installed?)" if status == 127 else ""))

    def loaded(self, host: str) -> Optional[str]:
        status, out, err = self._run(host, [NFT, "list", "table", *TABLE])
        if status == 0:
            return out
        if "No such file or directory" in err or status == 127:  # no table, or no nftables: nothing loaded
            return None
        raise HostError(host, f"nft could not list nap-compose's bridge filter: {(err or out).strip()}"
                        + (" (is the nftables package installed?)" if status == 127 else ""))

    def announce(self, host: str, containers: Sequence[Tuple[str, str]]) -> None:
        if not containers or self._engine_announces(host):
            return
        with self._lock:
            known = self._found.pop(host, {})
        # the ports just bound name each container's process and MAC; a container they did not
        # see (or saw at another address) is inspected
        unknown = [c for c, ip in containers if known.get(c, (0, None))[1] != ip]
        inspected = dict(zip(unknown, self._inspect_all(host, unknown)))
        args: List[str] = []
        for container_id, ip in containers:
            found = known.get(container_id) if container_id not in inspected else inspected[container_id]
            if found is not None and found[1] == ip and _MAC_RE.fullmatch(found[2]):
                args += [str(found[0]), ip, found[2]]
        if not args:
            return
        status, out, err = self._run(host, ["python3", "-c", _ANNOUNCE_PROGRAM, str(ANNOUNCES), str(ANNOUNCE_GAP_S),
                                            *args])
        if status != 0:
            raise HostError(host, f"cannot announce {len(args) // 3} address(es): {(err or out).strip()}")

    # ------------------------------------------------------------------ helpers
    def _bridge(self) -> str:
        return self.cluster.network.bridge

    def _inspect_all(self, host: str, containers: Sequence[str]) -> list:
        """``_inspect`` of each container, a few at a time over the host's one connection."""
        if len(containers) <= 1:
            return [self._inspect(host, c) for c in containers]
        with ThreadPoolExecutor(max_workers=min(INSPECTS_AT_ONCE, len(containers))) as pool:
            return list(pool.map(lambda c: self._inspect(host, c), containers))

    def _inspect(self, host: str, container_id: str):
        """(pid, address on the cluster network, MAC or "") of a running container; None when it has none."""
        try:
            data = self.connections.docker(host).api.inspect_container(container_id)
        except sdk_errors() as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise HostError(host, f"cannot inspect container {container_id[:12]}: {cause(exc)}") from exc
        state = data.get("State") or {}
        pid = state.get("Pid")
        endpoint = ((data.get("NetworkSettings") or {}).get("Networks") or {}).get(self.cluster.network.name) or {}
        ip, mac = endpoint.get("IPAddress") or "", (endpoint.get("MacAddress") or "").lower()
        if not state.get("Running") or not isinstance(pid, int) or pid <= 0 or not _IPV4_RE.fullmatch(ip):
            return None
        return pid, ip, mac if _MAC_RE.fullmatch(mac) else ""

    def _engine_announces(self, host: str) -> bool:
        with self._lock:
            if host in self._announces:
                return self._announces[host]
        try:
            version = str(self.connections.docker(host).version().get("Version", "0"))
        except sdk_errors():
            return False
        major = version.split(".", 1)[0]
        answer = major.isdigit() and int(major) >= ENGINE_ANNOUNCES_FROM
        with self._lock:
            self._announces[host] = answer  # asked once per host per command
        return answer

    def _run(self, host: str, argv: Sequence[str], stdin: Optional[str] = None) -> Tuple[int, str, str]:
        # every command here is harmless to run twice (a listing, a whole table, a few ARP frames)
        return run_command(self.connections, host, argv, stdin)
