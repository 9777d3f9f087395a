"""Who the lab's etcd members are: their names, addresses, directories and pidfiles, and how many.

Plain layout knowledge, no processes: the daemons (their pidfiles) and the etcd module (starting,
killing, reviving members) both read it. Member 1 is the lab's usual etcd on the operator address;
members 2..N get addresses at the top of the lab's subnet. The count is recorded in
DIR/etcd/members.json. Members speak TLS only, to clients and to each other, with the certificates
in DIR/etcd/tls/ (certs.py).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from napcompose.errors import UsageError
from napcompose.lab.certs import StoreTls
from napcompose.lab.layout import Layout

CLIENT_PORT, PEER_PORT = 2379, 2380
ALLOWED = (1, 3, 5)
_RECORD = "members.json"


@dataclass(frozen=True)
class EtcdMember:
    index: int
    key: str  # its key among the lab's daemons: etcd, etcd2, etcd3, ...
    name: str
    address: str
    dir: str
    pidfile: str

    @property
    def data_dir(self) -> str:
        return os.path.join(self.dir, "data")

    @property
    def log(self) -> str:
        return os.path.join(self.dir, "etcd.log")

    @property
    def client_url(self) -> str:
        return f"https://{self.address}:{CLIENT_PORT}"

    @property
    def peer_url(self) -> str:
        return f"https://{self.address}:{PEER_PORT}"


def check_count(count: int) -> int:
    if count not in ALLOWED:
        raise UsageError(f"--etcd-members {count}: a lab runs 1, 3 or 5 etcd members (an odd number keeps a "
                         "majority when one fails)")
    return count


def members(layout: Layout, count: Optional[int] = None) -> Tuple[EtcdMember, ...]:
    count = member_count(layout) if count is None else count
    top = ipaddress.IPv4Address(layout.operator)
    out = [EtcdMember(1, "etcd", f"lab-{layout.name}", layout.operator, layout.etcd_dir, layout.etcd_pidfile)]
    for i in range(2, count + 1):
        directory = os.path.join(layout.etcd_dir, f"m{i}")
        out.append(EtcdMember(i, f"etcd{i}", f"lab-{layout.name}-{i}", str(top - (i - 1)), directory,
                              os.path.join(directory, "etcd.pid")))
    return tuple(out)


def member_count(layout: Layout) -> int:
    """The recorded number of members; 1 for a lab that records none."""
    try:
        with open(os.path.join(layout.etcd_dir, _RECORD)) as fh:
            return int(json.load(fh)["members"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1


def record(layout: Layout, count: int) -> None:
    os.makedirs(layout.etcd_dir, exist_ok=True)
    for member in members(layout, count):
        os.makedirs(member.dir, exist_ok=True)
    with open(os.path.join(layout.etcd_dir, _RECORD), "w") as fh:
        json.dump({"members": count}, fh)


def store_tls(layout: Layout) -> StoreTls:
    """The store's CA, the members' certificate and the clients' certificate."""
    return StoreTls(os.path.join(layout.etcd_dir, "tls"))


def store_url(layout: Layout) -> str:
    """The cluster file's store URL: every member, so that clients fail over (over TLS: the cluster
    file names the certificates)."""
    return "etcd://" + ",".join(f"{m.address}:{CLIENT_PORT}" for m in members(layout))


def extra_pidfiles(layout: Layout) -> Dict[str, str]:
    """Pidfiles of members 2..N (member 1's is the lab's usual etcd pidfile)."""
    return {m.key: m.pidfile for m in members(layout)[1:]}
