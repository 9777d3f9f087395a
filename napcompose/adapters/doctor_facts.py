"""What ``doctor`` asks one host and the store: facts gathered over the product's own transports.

On a host everything goes through the host's one SSH connection (HostConnections): the Docker API as
every command reaches it, and a few fixed commands (``ip``, ``grep`` of /proc, ``iptables -S``, ``date``, ``mkdir``,
``mktemp``), each a constant argv joined with shlex.quote, never text from a file. The resolver is
asked with one DNS query to the host's address, port 53, from this machine. Nothing here judges:
napcompose/doctor/ does.
"""

from __future__ import annotations

import json
import random
import shlex
import socket
import struct
import time
from typing import List, Optional, Sequence, Tuple

from napcompose.adapters.docker_channel import DIAL_STDIO, STREAMLOCAL
from napcompose.adapters.sdk_errors import cause, sdk_errors
from napcompose.clustermodel import Cluster, Host, StoreSpec
from napcompose.doctor.facts import HostFacts, Link, MemberHealth, ResolverFacts
from napcompose.doctor.judge import NETFILTER, PROGRAMS
from napcompose.errors import HostKeyError, NapComposeError, without_host

STATE_DIR = "/var/lib/nap-compose"
COMMAND_TIMEOUT_S = 10.0
DNS_TIMEOUT_S = 2.0


def run(client, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S) -> Tuple[int, str, str]:
    """Run ``argv`` on the host of the connected paramiko ``client``: (exit status, stdout, stderr)."""
    stdin, stdout, stderr = client.exec_command(shlex.join(argv), timeout=timeout)
    stdin.close()
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return stdout.channel.recv_exit_status(), out, err


def gather_host(cluster: Cluster, host: Host, connections) -> HostFacts:
    """Every fact ``doctor`` judges about ``host``; a step that cannot be taken leaves its fields None."""
    facts = {}
    client = None
    try:
        client = connections.ssh(host.name)
    except HostKeyError as exc:
        facts.update(ssh_error=without_host(host.name, str(exc)), host_key_refused=True)
    except NapComposeError as exc:
        facts["ssh_error"] = without_host(host.name, str(exc))
    if client is not None or not host.docker_url.startswith("ssh://"):
        facts.update(_docker(cluster, host, connections))
    if client is not None:
        try:
            facts.update(_links(client))
            facts.update(_netfilter(client))
            facts.update(_clock(client))
            facts.update(_state_dir(client))
            facts.update(_programs(client))
        except sdk_errors() as exc:  # the connection broke half-way: what was gathered stands
            facts.setdefault("links_error", cause(exc))
    return HostFacts(host=host.name, **facts)


def _docker(cluster: Cluster, host: Host, connections) -> dict:
    try:
        client = connections.docker(host.name)
        version = client.version()
    except NapComposeError as exc:
        return {"docker_error": without_host(host.name, str(exc))}
    except sdk_errors() as exc:
        return {"docker_error": cause(exc)}
    facts = {"docker_version": str(version.get("Version", "?")), "api_version": str(version.get("ApiVersion", "?"))}
    route = connections.docker_route(host.name)
    if route.startswith(DIAL_STDIO):
        reason = route[len(DIAL_STDIO):].strip(" ()")
        facts["route_refused"] = reason[len(STREAMLOCAL + " refused: "):] if reason.startswith(STREAMLOCAL) else reason
    elif route.startswith(STREAMLOCAL):
        facts["docker_route"] = route[len(STREAMLOCAL):].strip()
    if cluster.network.resolver is not None:
        facts["resolver"] = _resolver(client, host)
    return facts


def _links(client) -> dict:
    status, out, err = run(client, ["ip", "-j", "-d", "addr", "show"])
    if status != 0:
        return {"links_error": (err.strip() or f"ip exited {status}")}
    try:
        listed = json.loads(out)
    except ValueError:
        return {"links_error": "ip -j printed no JSON (iproute2 older than 4.13?)"}
    _, found, _ = run(client, ["find", "-L", "/sys/class/net", "-mindepth", "2", "-maxdepth", "2",
                               "-name", "wireless"])
    wireless = {path.split("/")[-2] for path in found.split()}
    links: List[Link] = []
    for item in listed:
        info = item.get("linkinfo") or {}
        addresses = tuple(f"{a['local']}/{a['prefixlen']}" for a in item.get("addr_info") or ()
                          if a.get("family") == "inet" and "local" in a)
        links.append(Link(name=item.get("ifname", "?"), mtu=int(item.get("mtu", 0)), kind=info.get("info_kind", ""),
                          master=item.get("master"), addresses=addresses, wireless=item.get("ifname") in wireless))
    return {"links": tuple(links)}


def _netfilter(client) -> dict:
    paths = ["/proc/sys/" + name.replace(".", "/") for name in NETFILTER]
    _, out, _ = run(client, ["grep", "-sH", "."] + paths)  # a missing file (no br_netfilter) is left out
    seen = {}
    for line in out.splitlines():
        path, _, value = line.partition(":")
        seen[path] = int(value) if value.strip().isdigit() else None
    facts = {"netfilter": tuple((name, seen.get(path)) for name, path in zip(NETFILTER, paths))}
    status, out, _ = run(client, ["iptables", "-S", "FORWARD"])
    if status == 0:
        facts["forward_rules"] = tuple(line.strip() for line in out.splitlines() if line.strip())
    return facts


def _clock(client) -> dict:
    before = time.time()
    status, out, err = run(client, ["date", "+%s.%N"])
    after = time.time()
    try:
        remote = float(out.strip())
    except ValueError:
        return {"clock_error": err.strip() or f"date printed {out.strip()!r}"}
    return {"clock_offset_s": remote - (before + after) / 2, "clock_uncertainty_s": (after - before) / 2}


def _state_dir(client) -> dict:
    facts = {"state_dir": STATE_DIR, "state_dir_checked": True}
    status, _, err = run(client, ["mkdir", "-p", STATE_DIR])
    if status == 0:
        status, out, err = run(client, ["mktemp", "-p", STATE_DIR, ".doctor.XXXXXX"])
        if status == 0:
            run(client, ["rm", "-f", "--", out.strip()])
    if status != 0:
        facts["state_dir_error"] = err.strip() or f"exit status {status}"
    return facts


_HAS = 'for p in "$@"; do command -v "$p" >/dev/null 2>&1 && echo "$p"; done; true'


def _programs(client) -> dict:
    status, out, _ = run(client, ["sh", "-c", _HAS, "sh", *PROGRAMS])
    found = set(out.split())
    return {"programs": tuple(p for p in PROGRAMS if p in found)} if status == 0 else {}


def _resolver(docker_client, host: Host) -> ResolverFacts:
    import docker.errors

    from napcompose.adapters.resolver import CONTAINER

    try:
        state = (docker_client.api.inspect_container(CONTAINER).get("State") or {}).get("Status", "unknown")
    except docker.errors.NotFound:
        return ResolverFacts(container=None)
    except sdk_errors() as exc:
        return ResolverFacts(container="unknown", error=cause(exc))
    answered, error = dns_answers(host.address)
    return ResolverFacts(container=state, answered=answered, error=error)


def dns_answers(address: str, port: int = 53, timeout: float = DNS_TIMEOUT_S) -> Tuple[bool, str]:
    """Whether a DNS server answers at ``address``: one query (A record of a name no one serves) and any
    reply with its id, "no such name" included, counts."""
    ident = random.randrange(1 << 16)
    name = b"".join(bytes([len(p)]) + p for p in (b"nap-compose-doctor", b"invalid")) + b"\0"
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(query, (address, port))
            while True:
                reply, _ = sock.recvfrom(512)
                if len(reply) >= 2 and struct.unpack("!H", reply[:2])[0] == ident:
                    return True, ""
        except socket.timeout:
            return False, f"no reply within {timeout:g} s"
        except OSError as exc:
            return False, exc.strerror or str(exc)


def store_members(spec: StoreSpec, timeout: Optional[float] = None) -> Tuple[MemberHealth, ...]:
    """``GET /health`` on every etcd endpoint of ``spec`` (none for a file store), with its TLS settings."""
    import requests

    if not spec.url.startswith(("etcd://", "etcd3://")):
        return ()
    scheme = "https" if (spec.ca_cert or spec.cert) else "http"
    session = requests.Session()
    session.trust_env = False  # no proxy and no REQUESTS_CA_BUNDLE in place of store.ca_cert
    if spec.ca_cert:
        session.verify = spec.ca_cert
    if spec.cert:
        session.cert = (spec.cert, spec.key) if spec.key else spec.cert
    members = []
    with session:
        for endpoint in spec.url.split("://", 1)[1].split(","):
            endpoint = endpoint.strip().rstrip("/")
            try:
                reply = session.get(f"{scheme}://{endpoint}/health", timeout=timeout or spec.timeout_s)
                healthy = reply.status_code == 200 and str(reply.json().get("health")) == "true"
                detail = "" if healthy else f"/health answered {reply.status_code} {reply.text.strip()[:80]}"
            except (requests.RequestException, ValueError) as exc:
                healthy, detail = False, _short(exc)
            members.append(MemberHealth(endpoint, healthy, detail))
    return tuple(members)


def _short(exc: BaseException) -> str:
    text = str(exc)
    for known in ("Connection refused", "timed out", "CERTIFICATE_VERIFY_FAILED", "certificate required",
                  "Name or service not known", "No route to host"):
        if known in text:
            return known.lower() if known != "CERTIFICATE_VERIFY_FAILED" else "certificate verify failed"
    return text[:120]

