"""The lab's etcd: one member (the default) or a replicated cluster of 3 or 5, and leader failures on demand.

Member 1 listens on the operator address (the switch's address in the root namespace), exactly as a
one-member lab always did; members 2..N get their own addresses at the top of the lab's subnet
(.253, .252, ...), added to the same switch. So every member stays inside the lab, reachable from
the operator and from every host namespace, and nothing routes out. Every member serves both APIs
(``--enable-v2=true``). The member count is recorded in DIR/etcd/members.json.

Every member serves TLS only and asks each client for a certificate signed by the lab's CA
(``--client-cert-auth``): the lab's hosts and containers share the members' segment, and the
store decides which addresses are handed out. ``make_certs`` makes the CA and the certificates
(certs.py); the members use theirs for their peer connections too.

``kill_leader`` SIGKILLs the member the others follow (a crash, not a clean stop); ``revive`` starts
every dead member again on its own data directory, so it rejoins the cluster it left.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
from typing import Any, Callable, Dict, List, Optional, Tuple

from napcompose.errors import LabError
from napcompose.lab import certs, daemons, netns
from napcompose.lab.certs import StoreTls
from napcompose.lab.etcd_members import (CLIENT_PORT, EtcdMember, check_count, member_count, members, record,
                                         store_tls, store_url)
from napcompose.lab.layout import Layout

# Who the members are lives in etcd_members.py (the daemons' pidfiles read it too); the lab's commands
# reach it through this module.
__all__ = ["CLIENT_PORT", "EtcdMember", "add_addresses", "check_count", "checks", "kill_leader", "layout_in",
           "make_certs", "member_count", "members", "record", "revive", "start", "starters", "status", "store_tls",
           "store_url"]


def add_addresses(layout: Layout) -> None:
    """Give members 2..N their addresses on the lab's switch (member 1 uses the operator address)."""
    for member in members(layout)[1:]:
        present = netns.run(["ip", "-o", "-4", "addr", "show", "dev", layout.switch]).stdout
        if f" {member.address}/" in present:
            continue
        if netns.address_in_use(member.address):
            raise LabError(f"etcd member address {member.address} is already used on this machine; choose another "
                           "--subnet")
        netns.run(["ip", "addr", "add", f"{member.address}/{layout.prefixlen}", "dev", layout.switch])


def make_certs(layout: Layout) -> StoreTls:
    """A fresh CA and certificates for this lab's members (every member address) and its clients."""
    return certs.make(store_tls(layout).dir, layout.name, [m.address for m in members(layout)])


def argv(layout: Layout, member: EtcdMember) -> List[str]:
    tls = store_tls(layout)
    cluster = ",".join(f"{m.name}={m.peer_url}" for m in members(layout))
    return ["etcd", f"--name={member.name}", f"--data-dir={member.data_dir}",
            f"--listen-client-urls={member.client_url}", f"--advertise-client-urls={member.client_url}",
            f"--listen-peer-urls={member.peer_url}", f"--initial-advertise-peer-urls={member.peer_url}",
            f"--initial-cluster={cluster}", f"--initial-cluster-token=nap-lab-{layout.name}",
            "--initial-cluster-state=new", "--enable-v2=true", "--log-level=warn",
            "--client-cert-auth", f"--trusted-ca-file={tls.ca}", f"--cert-file={tls.server_cert}",
            f"--key-file={tls.server_key}",
            "--peer-client-cert-auth", f"--peer-trusted-ca-file={tls.ca}", f"--peer-cert-file={tls.server_cert}",
            f"--peer-key-file={tls.server_key}"]


def start(layout: Layout, member: EtcdMember) -> int:
    if not store_tls(layout).complete():
        raise LabError(f"the lab's store certificates in {store_tls(layout).dir} are missing; run "
                       f"`nap-compose lab down --dir {layout.dir}` and `nap-compose lab up` again")
    return daemons.spawn(argv(layout, member), member.log, member.pidfile)


def starters(layout: Layout) -> Dict[str, Callable[[], int]]:
    return {m.key: (lambda m=m: start(layout, m)) for m in members(layout)}


def checks(layout: Layout) -> Dict[str, Tuple[str, Callable[[], bool], float, str]]:
    contexts: List[Any] = []  # made at the first check: the certificates may not exist yet when asked

    def ready(member: EtcdMember) -> bool:
        if not contexts:
            contexts.append(store_tls(layout).client_context())
        return daemons.etcd_ready(member.address, contexts[0])

    return {m.key: (f"etcd member {m.name} ({m.address})", lambda m=m: ready(m), 30.0, m.log)
            for m in members(layout)}


# --------------------------------------------------------------------------- status and failures


def _member_status(address: str, context) -> Optional[Dict[str, Any]]:
    """etcd's maintenance status of one member (its id and the leader it follows), or None."""
    conn = http.client.HTTPSConnection(address, CLIENT_PORT, timeout=1.0, context=context)
    try:
        conn.request("POST", "/v3/maintenance/status", body="{}", headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        if reply.status != 200:
            return None
        return json.loads(reply.read().decode())
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def status(layout: Layout) -> List[Dict[str, Any]]:
    marker = layout.dir.rstrip("/") + "/"
    context = _context(layout)
    out = []
    for member in members(layout):
        pid = daemons.read_pid(member.pidfile)
        running = daemons.alive(pid, marker)
        found = _member_status(member.address, context) if running and context else None
        member_id = found["header"]["member_id"] if found else None
        out.append({"key": member.key, "name": member.name, "address": member.address, "pid": pid,
                    "running": running,
                    "answers": running and context is not None and daemons.etcd_ready(member.address, context),
                    "leader": bool(found) and member_id == found.get("leader"),
                    "raft_index": int(found.get("raftIndex", 0)) if found else None})
    return out


def _context(layout: Layout):
    """The client TLS context, or None for a lab without its certificates (made before they were)."""
    try:
        return store_tls(layout).client_context()
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return None


def kill_leader(layout: Layout) -> EtcdMember:
    """SIGKILL the member the cluster follows; LabError when no live member names a leader."""
    marker = layout.dir.rstrip("/") + "/"
    for member, found in zip(members(layout), status(layout)):
        if found["leader"]:
            os.kill(found["pid"], signal.SIGKILL)
            daemons.stop([found["pid"]], marker, timeout=5.0)  # only waits: it is gone already
            return member
    raise LabError(f"no etcd member of lab {layout.name} reports itself as the leader (are they running? "
                   f"see `nap-compose lab status --dir {layout.dir}`)")


def revive(layout: Layout) -> List[EtcdMember]:
    """Start every member that is not running, on its own data, and wait until each is healthy."""
    marker = layout.dir.rstrip("/") + "/"
    dead = [m for m, s in zip(members(layout), status(layout)) if not s["running"]]
    pids = {m.key: start(layout, m) for m in dead}
    for member in dead:
        what, check, timeout, log = checks(layout)[member.key]
        daemons.wait_until(what, check, timeout, log, lambda m=member: daemons.alive(pids[m.key], marker))
    return dead


def layout_in(directory: str) -> Layout:
    """The layout of the lab recorded in ``directory``."""
    from napcompose.lab import state

    recorded = state.read_state(directory)
    if recorded is None:
        raise LabError(f"no lab in {os.path.abspath(directory)} (no state.json)")
    return state.layout_of(recorded)
