"""What the allocator keeps in the store: key names and the JSON of address and owner records."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional

from napcompose.errors import IpamError, StoreError
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
