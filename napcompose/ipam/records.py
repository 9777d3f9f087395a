"""What the allocator keeps in the store: key names and the JSON of address and owner records."""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from napcompose.errors import IpamError, StoreError
from napcompose.ipam.pool import canonical
from napcompose.model import Allocation

# Owner strings become one key component, so they are kept to a small alphabet: '/' separates
# project/service/index and is written as '~' in the key (a '/' would make etcd v2 directories,
# and then an owner "a" and an owner "a/b" could not both exist).
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*(/[A-Za-z0-9_.@:-]+)*$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_OWNER = 200


def check_owner(owner: object) -> str:
    if not isinstance(owner, str) or not owner:
        raise IpamError("an owner is required (project/service/index or another name)")
    if len(owner) > MAX_OWNER or not _OWNER.match(owner):
        raise IpamError(f"invalid owner '{owner}': use letters, digits and _.@:- in parts separated "
                        f"by '/', at most {MAX_OWNER} characters (e.g. myproject/web/1)")
    return owner


def check_host(host: object) -> Optional[str]:
    if host is None:
        return None
    if not isinstance(host, str) or not _HOST.match(host) or len(host) > 253:
        raise IpamError(f"invalid host name '{host}'")
    return host


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def pool(self) -> str:
        return f"{self.prefix}/pool"

    @property
    def addresses(self) -> str:
        return f"{self.prefix}/addresses/"

    @property
    def blocks(self) -> str:
        return f"{self.prefix}/blocks/"

    def address(self, ip: str) -> str:
        return f"{self.prefix}/addresses/{ip}"

    def owner(self, owner: str) -> str:
        return f"{self.prefix}/owners/{owner.replace('/', '~')}"

    def block(self, number: int) -> str:
        return f"{self.prefix}/blocks/{number}"


@dataclass(frozen=True)
class OwnerRecord:
    """The owner's claim: which address it holds (or is taking), under which allocation id.

    ``prev_ip``/``prev_id`` are set only while the owner moves to a new fixed address: they name
    the address it is leaving, so that an interrupted move can be finished or rolled back.
    ``releasing`` is set while the owner's address is being released.
    """

    ip: str
    alloc_id: str
    since: float
    prev_ip: Optional[str] = None
    prev_id: Optional[str] = None
    releasing: bool = False  # set before the address is deleted, so nobody writes it back from here

    def dump(self) -> str:
        data = {"ip": self.ip, "alloc_id": self.alloc_id, "since": self.since}
        if self.prev_ip:
            data.update(prev_ip=self.prev_ip, prev_id=self.prev_id)
        if self.releasing:
            data["releasing"] = True
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def load(key: str, text: str) -> "OwnerRecord":
        try:
            data = json.loads(text)
            return OwnerRecord(ip=str(data["ip"]), alloc_id=str(data["alloc_id"]), since=float(data["since"]),
                               prev_ip=data.get("prev_ip"), prev_id=data.get("prev_id"),
                               releasing=bool(data.get("releasing", False)))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StoreError(f"the store holds a malformed owner record at {key}: {text[:80]!r}") from None


def dump_allocation(a: Allocation) -> str:
    data = {"owner": a.owner, "host": a.host, "state": a.state, "since": a.since, "alloc_id": a.alloc_id}
    if a.generation > 1:  # records of first copies keep the shape they always had
        data["generation"] = a.generation
    return json.dumps(data, sort_keys=True)


def load_allocation(ip: str, key: str, text: str) -> Allocation:
    try:
        data = json.loads(text)
        return Allocation(ip=ip, owner=str(data["owner"]), host=data.get("host"), state=str(data["state"]),
                          since=float(data["since"]), alloc_id=str(data["alloc_id"]),
                          generation=int(data.get("generation", 1)))
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"the store holds a malformed address record at {key}: {text[:80]!r}") from None


# --------------------------------------------------------------------------- records that cannot be read


@dataclass(frozen=True)
class BadRecord:
    """A key under the prefix that holds no record nap-compose wrote: a damaged value, or a key that names
    no address. It is skipped and reported, and never freed: the address its key names (if any) is never
    handed out while it stays, since a record that cannot be read may still be someone's."""

    key: str
    kind: str  # address | owner | host block | eviction
    text: str
    why: str
    ip: Optional[str] = None  # the address its key names, kept out of the pool
    owner: Optional[str] = None  # for an owner record: the owner its key names

    @property
    def message(self) -> str:
        kept = {("address", True): f"; {self.ip} is not handed out while it stays",
                ("address", False): "; nothing is handed out from it",
                ("host block", True): f"; the block at {self.ip} is not given to a host while it stays",
                }.get((self.kind, bool(self.ip)), "")
        return (f"the store holds a malformed {self.kind} record at {self.key} ({self.why}): {self.text[:80]!r}; "
                f"skipped{kept} (check it and remove the key by hand)")


def address_of_key(text: str) -> Optional[str]:
    """The IPv4 address a key component names in its canonical form, or None."""
    if canonical(text):
        return text
    try:
        ip = str(ipaddress.IPv4Address(text))
    except ValueError:
        return None
    return ip if ip == text else None


def bad_address(key: str, ip_text: str, text: str) -> BadRecord:
    ip = address_of_key(ip_text)
    why = "its value is not an address record" if ip else "its key names no address"
    return BadRecord(key, "address", text, why, ip=ip)


class BadRecords:
    """The unreadable records one command came across, each reported once (``warn``) by its key."""

    def __init__(self, warn: Callable[[str], None] = lambda message: None):
        self._warn = warn
        self._seen: Dict[str, BadRecord] = {}
        self._lock = threading.Lock()

    def found(self, record: BadRecord) -> None:
        with self._lock:  # the executor reads the store from several threads
            if record.key in self._seen:
                return
            self._seen[record.key] = record
            self._warn(record.message)

    def all(self) -> List[BadRecord]:
        with self._lock:
            return sorted(self._seen.values(), key=lambda r: r.key)
