"""``nap-compose cluster init``: write a commented starting cluster file that the parser accepts.

The layout it proposes for the subnet: the router (its first address unless ``--router``), the hosts
as given, nap-compose's pool in the longest run of free addresses of the subnet's upper half, and the
hosts' blocks (Docker's own IPAM on each host) carved from what is left. The text is parsed before it
is written, so a file it writes always loads; an existing file is kept unless ``--force``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import List, Optional, Sequence, Tuple

from napcompose.errors import ExitStatus, UsageError

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
DEFAULT_FILE = "nap-cluster.yml"


def register(subparsers) -> None:
    cluster = subparsers.add_parser("cluster", help="the cluster file: write a starting one",
                                    description="Work with the cluster file (docs/cluster-file.md).")
    sub = cluster.add_subparsers(dest="cluster_command", metavar="CLUSTER_COMMAND")
    cluster.set_defaults(func=lambda args, ctx: (cluster.print_help(ctx.stdout), 2)[1])
    init = sub.add_parser(
        "init", help="write a commented starting cluster file",
        description="Write a cluster file for the hosts given: the subnet and router, a pool in the free upper "
                    "half of the subnet, a block per host carved from the rest, the store (a JSON file beside "
                    "the cluster file when --store is not given) and commented examples of the other keys. "
                    "The file is checked by the parser before it is written.")
    init.add_argument("--host", dest="hosts", action="append", required=True, metavar="NAME=ADDRESS",
                      help="a host and its address on the subnet (repeatable, in the order hosts are used)")
    init.add_argument("--subnet", required=True, metavar="CIDR", help="the LAN the hosts share, e.g. 192.168.10.0/24")
    init.add_argument("--router", metavar="ADDRESS", help="the LAN's router (default: the subnet's first address)")
    init.add_argument("--store", metavar="URL", help="etcd3://host:2379[,host:2379...] (or etcd://, file:///path)")
    init.add_argument("-o", "--output", default=DEFAULT_FILE, metavar="FILE",
                      help=f"where to write it (default ./{DEFAULT_FILE}; - for standard output)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)


def _hosts(values: Sequence[str], subnet: ipaddress.IPv4Network) -> List[Tuple[str, ipaddress.IPv4Address]]:
    hosts: List[Tuple[str, ipaddress.IPv4Address]] = []
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not _NAME_RE.match(name):
            raise UsageError(f"cluster init: --host {value!r}: give NAME=ADDRESS, the name matching "
                             "[a-zA-Z0-9][a-zA-Z0-9_.-]*")
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            raise UsageError(f"cluster init: --host {value}: '{text}' is not an IPv4 address") from None
        if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
            raise UsageError(f"cluster init: --host {value}: {address} is not a host address of the subnet {subnet}")
        for other, taken in hosts:
            if other == name:
                raise UsageError(f"cluster init: --host {value}: host {name} is given twice")
            if taken == address:
                raise UsageError(f"cluster init: --host {value}: {address} is also the address of {other}")
        hosts.append((name, address))
    return hosts


def _pool(subnet: ipaddress.IPv4Network, taken: Sequence[ipaddress.IPv4Address]) -> Optional[str]:
    """The longest run of free addresses in the subnet's upper half, as ``first-last``."""
    first = int(subnet.network_address) + subnet.num_addresses // 2
    last = int(subnet.broadcast_address) - 1
    used = {int(a) for a in taken}
    best, start = (0, 0, -1), None
    for value in range(first, last + 2):
        if value <= last and value not in used:
            start = value if start is None else start
            continue
        if start is not None and value - start > best[0]:
            best = (value - start, start, value - 1)
        start = None
    if best[0] < 2:
        return None
    return f"{ipaddress.IPv4Address(best[1])}-{ipaddress.IPv4Address(best[2])}"


def _note(code: str, comment: str) -> str:
    return f"{code:<26} # {comment}"


def starting_file(hosts: Sequence[str], subnet_text: str, router_text: Optional[str] = None,
                  store: Optional[str] = None) -> str:
    """The text of a starting cluster file; UsageError naming the option that cannot be used."""
    try:
        subnet = ipaddress.IPv4Network(subnet_text, strict=True)
    except ValueError:
        raise UsageError(f"cluster init: --subnet '{subnet_text}' is not an IPv4 network in CIDR form "
                         "(e.g. 192.168.10.0/24, host bits zero)") from None
    if subnet.prefixlen > 29:
        raise UsageError(f"cluster init: --subnet {subnet} is too small for hosts, blocks and a pool (/29 at most)")
    members = _hosts(hosts, subnet)
    if router_text is None:
        router = subnet.network_address + 1
    else:
        try:
            router = ipaddress.IPv4Address(router_text)
        except ValueError:
            raise UsageError(f"cluster init: --router '{router_text}' is not an IPv4 address") from None
        if router not in subnet:
            raise UsageError(f"cluster init: --router {router} is outside the subnet {subnet}")
    for name, address in members:
        if address == router:
            raise UsageError(f"cluster init: --host {name}={address}: that is the router's address")
    pool = _pool(subnet, [router] + [a for _, a in members])
    if pool is None:
        raise UsageError(f"cluster init: the upper half of {subnet} has no free run of addresses for a pool")
    block = 28 if subnet.prefixlen <= 26 else min(32, subnet.prefixlen + 2)
    if store:
        store_lines = ["store:", f"  url: \"{store}\"",
                       "  # ca_cert: etcd-ca.pem          # TLS: the CA of the members' certificates",
                       "  # cert: nap-client.pem          # the client certificate etcd asks for",
                       "  # key: nap-client-key.pem"]
    else:
        store_lines = ["# No store: the addresses are kept in nap-ipam.json beside this file, which only this",
                       "# machine can use. With etcd (docs/real-hosts.md):",
                       "# store:",
                       "#   url: \"etcd3://192.0.2.10:2379,192.0.2.11:2379,192.0.2.12:2379\"",
                       "#   ca_cert: etcd-ca.pem",
                       "#   cert: nap-client.pem",
                       "#   key: nap-client-key.pem"]
    lines = [
        "# The cluster file of nap-compose (every key: docs/cluster-file.md). Paths are relative to this file.",
        "# Next: `nap-compose doctor`, then `nap-compose network create` (docs/real-hosts.md).",
        "network:",
        "  name: nap                # the Docker network on every host",
        "  bridge: br0              # the Linux bridge with the host's address and its NIC as a port",
        f"  subnet: {subnet}",
        _note(f"  router: {router}", "the containers' default gateway"),
        _note(f"  pools: [\"{pool}\"]", "the addresses nap-compose gives its replicas"),
        "  reserved: []             # addresses nobody gets (DHCP ranges, printers, other machines)",
        "  mtu: 1500                # the LAN's MTU; br0 and the NICs must carry it",
        _note(f"  host_block: {block}", "each host's block, carved from the addresses left free"),
        "  # host_blocks: [\"first-last\"]   # where to carve the blocks instead",
        "  # resolver: false          # no names resolver (dnsmasq) on the hosts: names from hosts files only",
    ] + store_lines + [
        "ssh:                       # for every host; a host may override these under its own ssh:",
        "  user: root",
        "  # key_file: ~/.ssh/id_ed25519",
        "  # known_hosts: known_hosts  # default ~/.ssh/known_hosts",
        "  # connect_timeout: 1",
        "hosts:",
    ] + [f"  - {{name: {name}, address: {address}}}" for name, address in members] + [
        "# lock: {ttl: 30}           # seconds a project lock lives unless renewed",
        "",
    ]
    return "\n".join(lines)


def cmd_init(args, ctx) -> int:
    from napcompose.cluster import parse_cluster

    output = args.output
    path = None if output == "-" else os.path.join(ctx.cwd, output)
    text = starting_file(args.hosts, args.subnet, args.router, args.store)
    parse_cluster(text, path or os.path.join(ctx.cwd, DEFAULT_FILE))  # a ConfigError names the key
    if path is None:
        ctx.stdout.write(text)
        return ExitStatus.OK
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if args.force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise UsageError(f"cluster init: {path} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cluster init: cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    ctx.out(f"wrote {path}: {len(args.hosts)} host(s); next: `nap-compose --cluster {output} doctor`")
    return ExitStatus.OK
