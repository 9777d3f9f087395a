"""The cluster file: which Docker hosts exist, how to reach them, the flat network and the address store.

Parsing is strict: the compose files' YAML loader (safe tags only, duplicate keys refused, bounded size
and alias expansion, errors at file:line), then unknown keys refused with a suggestion; every error
names the file and the key or host involved. Relative paths in the file are taken relative to the
file's own directory and made absolute, so the loaded Cluster does not depend on the working directory.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from typing import Any, Dict, List, Optional, Tuple

import yaml

from napcompose.config.yamlload import load_text, read_file
from napcompose.errors import ConfigError
from napcompose.ipam.blocks import area_conflict as host_block_area_conflict
from napcompose.model import pairs
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, ResolverSpec, SshSpec, StoreSpec

_TOP_KEYS = ("network", "store", "ssh", "hosts", "accept_new_host_keys", "lock")
_NETWORK_KEYS = ("name", "bridge", "subnet", "router", "pools", "reserved", "mtu", "host_block", "host_blocks",
                 "resolver", "isolation")
_RESOLVER_KEYS = ("upstream", "directory", "domain")
_DOMAIN_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_STORE_KEYS = ("url", "prefix", "timeout", "ca_cert", "cert", "key", "username", "password")
_SSH_KEYS = ("user", "port", "key_file", "known_hosts", "connect_timeout")
_LOCK_KEYS = ("ttl",)
_HOST_KEYS = ("name", "address", "docker_url", "ssh", "labels", "tls_ca", "tls_cert", "tls_key", "insecure_tcp")
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_BRIDGE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$")
_DOCKER_SCHEMES = ("ssh", "tcp", "unix")


# --------------------------------------------------------------------------- helpers


class _Ctx:
    """Where we are in the file, for messages: ``source: hosts[1] (node2): ...``."""

    def __init__(self, source: str, base_dir: str):
        self.source = source
        self.base_dir = base_dir

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {message}")

    def path(self, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = os.path.expanduser(str(value))
        return os.path.normpath(os.path.join(self.base_dir, value))


def _mapping(ctx: _Ctx, where: str, value: Any, allowed: Tuple[str, ...]) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.fail(where, f"must be a mapping, not {type(value).__name__}")
    for key in value:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(allowed)})"
            raise ctx.fail(where, f"unknown key '{key}'{suggestion}")
    return value


def _string(ctx: _Ctx, where: str, value: Any, required: bool = True) -> Optional[str]:
    if value is None:
        if required:
            raise ctx.fail(where, "is required")
        return None
    if isinstance(value, (dict, list, bool)):
        raise ctx.fail(where, f"must be a string, not {type(value).__name__}")
    return str(value)


def _int(ctx: _Ctx, where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ctx.fail(where, f"must be an integer from {low} to {high}, not {value!r}")
    return value


def _bool(ctx: _Ctx, where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(where, f"must be true or false, not {value!r}")
    return value


def _address(ctx: _Ctx, where: str, value: Any) -> ipaddress.IPv4Address:
    text = _string(ctx, where, value)
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ctx.fail(where, f"'{text}' is not an IPv4 address") from None


def _pool_range(ctx: _Ctx, where: str, text: str) -> Tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """A pool given as ``first-last`` or as a CIDR; returns its first and last address."""
    try:
        if "-" in text:
            first, last = (ipaddress.IPv4Address(part.strip()) for part in text.split("-", 1))
        else:
            net = ipaddress.IPv4Network(text, strict=True)
            first, last = net.network_address, net.broadcast_address
    except ValueError:
        raise ctx.fail(where, f"'{text}' is not a range 'first-last' or a CIDR") from None
    if first > last:
        raise ctx.fail(where, f"'{text}' ends before it starts")
    return first, last


# --------------------------------------------------------------------------- sections


def _network(ctx: _Ctx, raw: Any):
    where = "network"
    if raw is None:
        raise ctx.fail(where, "is required (name, subnet, router, pools)")
    raw = _mapping(ctx, where, raw, _NETWORK_KEYS)
    name = _string(ctx, "network.name", raw.get("name", "nap"))
    if not _NAME_RE.match(name):
        raise ctx.fail("network.name", f"'{name}' is not a valid network name")
    bridge = _string(ctx, "network.bridge", raw.get("bridge", "br0"))
    if not _BRIDGE_RE.match(bridge):
        raise ctx.fail("network.bridge", f"'{bridge}' is not a valid Linux interface name (at most 15 characters)")
    subnet_text = _string(ctx, "network.subnet", raw.get("subnet"))
    try:
        subnet = ipaddress.IPv4Network(subnet_text, strict=True)
    except ValueError:
        raise ctx.fail("network.subnet", f"'{subnet_text}' is not an IPv4 network in CIDR form") from None
    router = _address(ctx, "network.router", raw.get("router"))
    if router not in subnet:
        raise ctx.fail("network.router", f"{router} is outside the subnet {subnet}")
    pools_raw = raw.get("pools")
    if not isinstance(pools_raw, list) or not pools_raw:
        raise ctx.fail("network.pools", "must be a non-empty list of ranges 'first-last' or CIDRs")
    ranges = []
    for i, item in enumerate(pools_raw):
        text = _string(ctx, f"network.pools[{i}]", item)
        first, last = _pool_range(ctx, f"network.pools[{i}]", text)
        if first not in subnet or last not in subnet:
            raise ctx.fail(f"network.pools[{i}]", f"'{text}' is not inside the subnet {subnet}")
        if router and first <= router <= last:
            raise ctx.fail("network.router", f"{router} is inside the container pool '{text}'")
        ranges.append((first, last, text))
    reserved_raw = raw.get("reserved") or []
    if not isinstance(reserved_raw, list):
        raise ctx.fail("network.reserved", "must be a list of addresses")
    reserved = []
    for i, item in enumerate(reserved_raw):
        addr = _address(ctx, f"network.reserved[{i}]", item)
        if addr not in subnet:
            raise ctx.fail(f"network.reserved[{i}]", f"{addr} is outside the subnet {subnet}")
        reserved.append(str(addr))
    mtu = _int(ctx, "network.mtu", raw.get("mtu", 1500), 576, 65535)
    host_block = _host_block(ctx, raw.get("host_block", 28), subnet)
    areas_raw = raw.get("host_blocks") or []
    if not isinstance(areas_raw, list):
        raise ctx.fail("network.host_blocks", "must be a list of ranges 'first-last' or CIDRs")
    areas = []
    for i, item in enumerate(areas_raw):
        text = _string(ctx, f"network.host_blocks[{i}]", item)
        first, last = _pool_range(ctx, f"network.host_blocks[{i}]", text)
        if first not in subnet or last not in subnet:
            raise ctx.fail(f"network.host_blocks[{i}]", f"'{text}' is not inside the subnet {subnet}")
        areas.append(text)
    network = ClusterNetwork(name=name, subnet=str(subnet), router=str(router),
                             pools=tuple(text for _, _, text in ranges), bridge=bridge, mtu=mtu,
                             reserved=tuple(reserved), host_block=host_block, host_blocks=tuple(areas),
                             resolver=_resolver(ctx, raw.get("resolver")),
                             isolation=_bool(ctx, "network.isolation", raw.get("isolation", True)))
    return network, subnet, ranges


def _resolver(ctx: _Ctx, raw: Any) -> Optional[ResolverSpec]:
    """``{upstream: [addresses], directory: /abs/path, domain: nap}``; absent or ``true``: the defaults;
    ``false``: none.

    On unless turned off: a compose file reaches its peers by service name, and only the resolver
    answers a bare service name with every replica, or at all without ``links``/``depends_on``.
    """
    if raw is False:
        return None
    if raw is None or raw is True:
        return ResolverSpec()
    raw = _mapping(ctx, "network.resolver", raw, _RESOLVER_KEYS)
    upstream_raw = raw.get("upstream") or []
    if not isinstance(upstream_raw, list):
        raise ctx.fail("network.resolver.upstream", "must be a list of addresses")
    upstream = tuple(str(_address(ctx, f"network.resolver.upstream[{i}]", item))
                     for i, item in enumerate(upstream_raw))
    directory = _string(ctx, "network.resolver.directory", raw.get("directory", ResolverSpec.directory))
    if not directory.startswith("/") or "\n" in directory or "," in directory or ".." in directory.split("/"):
        raise ctx.fail("network.resolver.directory", f"{directory!r} is not an absolute path without '..' or ','")
    domain = _string(ctx, "network.resolver.domain", raw.get("domain", ResolverSpec.domain))
    if not _DOMAIN_RE.fullmatch(domain):
        raise ctx.fail("network.resolver.domain", f"{domain!r} is not a DNS domain (lower-case letters, digits, "
                                                  "'-' and dots)")
    return ResolverSpec(upstream=upstream, directory=directory.rstrip("/") or "/", domain=domain)


def _host_block(ctx: _Ctx, value: Any, subnet) -> int:
    """The prefix length of a host's block: ``28`` or ``/28`` (16 addresses)."""
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    length = int(text[1:] if text.startswith("/") else text) if text and text.lstrip("/").isdigit() else None
    if length is None or not subnet.prefixlen < length <= 32:
        raise ctx.fail("network.host_block", (
            f"must be a prefix length from {subnet.prefixlen + 1} to 32 (e.g. 28: blocks of 16 addresses), "
            f"not {value!r}"))
    return length


def _store(ctx: _Ctx, raw: Any) -> StoreSpec:
    if raw is None:
        return StoreSpec(url="file://" + os.path.join(ctx.base_dir, "nap-ipam.json"))
    raw = _mapping(ctx, "store", raw, _STORE_KEYS)
    url = _string(ctx, "store.url", raw.get("url"))
    if url.startswith("file://"):
        url = "file://" + ctx.path(url[len("file://"):])
    elif not url.startswith(("etcd://", "etcd3://")) or url in ("etcd://", "etcd3://"):
        raise ctx.fail("store.url", f"'{url}' must be etcd://host:port[,host:port] (v2 API), "
                                    "etcd3://host:port[,host:port] (v3 API) or file:///path")
    timeout = raw.get("timeout", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ctx.fail("store.timeout", f"must be a positive number of seconds, not {timeout!r}")
    if raw.get("key") is not None and raw.get("cert") is None:
        raise ctx.fail("store.key", "is given without store.cert (the client certificate it belongs to)")
    if url.startswith("file://") and any(raw.get(k) is not None for k in ("ca_cert", "cert", "key")):
        raise ctx.fail("store", "ca_cert, cert and key are for an etcd store; a file:// store has no TLS")
    return StoreSpec(url=url, prefix=_string(ctx, "store.prefix", raw.get("prefix", "/nap-compose")),
                     ca_cert=ctx.path(_string(ctx, "store.ca_cert", raw.get("ca_cert"), False)),
                     cert=ctx.path(_string(ctx, "store.cert", raw.get("cert"), False)),
                     key=ctx.path(_string(ctx, "store.key", raw.get("key"), False)),
                     username=_string(ctx, "store.username", raw.get("username"), False),
                     password=_string(ctx, "store.password", raw.get("password"), False),
                     timeout_s=float(timeout))


def _ssh(ctx: _Ctx, where: str, raw: Any, base: SshSpec) -> SshSpec:
    raw = _mapping(ctx, where, raw, _SSH_KEYS)
    return SshSpec(
        user=_string(ctx, f"{where}.user", raw.get("user", base.user)),
        port=_int(ctx, f"{where}.port", raw.get("port", base.port), 1, 65535),
        key_file=ctx.path(_string(ctx, f"{where}.key_file", raw["key_file"], False))
        if "key_file" in raw else base.key_file,
        known_hosts=ctx.path(_string(ctx, f"{where}.known_hosts", raw["known_hosts"], False))
        if "known_hosts" in raw else base.known_hosts,
        connect_timeout_s=_seconds(ctx, f"{where}.connect_timeout",
                                   raw.get("connect_timeout", base.connect_timeout_s), 0.1, 600),
    )


def _seconds(ctx: _Ctx, where: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ctx.fail(where, f"must be a number of seconds from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _lock(ctx: _Ctx, raw: Any) -> float:
    raw = _mapping(ctx, "lock", raw, _LOCK_KEYS)
    return _seconds(ctx, "lock.ttl", raw.get("ttl", 30), 1, 3600)


def _host(ctx: _Ctx, index: int, raw: Any, ssh_defaults: SshSpec) -> Host:
    where = f"hosts[{index}]"
    raw = _mapping(ctx, where, raw, _HOST_KEYS)
    name = _string(ctx, f"{where}.name", raw.get("name"))
    if not _NAME_RE.match(name):
        raise ctx.fail(f"{where}.name", f"'{name}' is not a valid host name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)")
    where = f"hosts[{index}] ({name})"
    address = _address(ctx, f"{where}.address", raw.get("address"))
    ssh = _ssh(ctx, f"{where}.ssh", raw.get("ssh"), ssh_defaults)
    docker_url = _string(ctx, f"{where}.docker_url", raw.get("docker_url", f"ssh://{ssh.user}@{address}"))
    scheme = docker_url.split("://", 1)[0] if "://" in docker_url else ""
    if scheme not in _DOCKER_SCHEMES:
        raise ctx.fail(f"{where}.docker_url", f"'{docker_url}' must start with ssh://, tcp:// or unix://")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise ctx.fail(f"{where}.labels", "must be a mapping of label names to values")
    host = Host(name=name, address=str(address), docker_url=docker_url, ssh=ssh, labels=pairs(labels),
                tls_ca=ctx.path(_string(ctx, f"{where}.tls_ca", raw.get("tls_ca"), False)),
                tls_cert=ctx.path(_string(ctx, f"{where}.tls_cert", raw.get("tls_cert"), False)),
                tls_key=ctx.path(_string(ctx, f"{where}.tls_key", raw.get("tls_key"), False)),
                insecure_tcp=_bool(ctx, f"{where}.insecure_tcp", raw.get("insecure_tcp", False)))
    if bool(host.tls_cert) != bool(host.tls_key):
        raise ctx.fail(f"{where}.{'tls_key' if host.tls_cert else 'tls_cert'}",
                       "tls_cert and tls_key go together (the client certificate and its key)")
    if scheme == "tcp" and host.tls_cert and not host.tls_ca and not host.insecure_tcp:
        raise ctx.fail(f"{where}.tls_ca", (
            f"'{docker_url}' has a client certificate but no tls_ca: the engine's own certificate would not be "
            "verified, so anyone on the path could pose as the host. Give tls_ca, or set insecure_tcp: true to "
            "accept the risk"))
    if scheme == "tcp" and not (host.tls_ca or host.tls_cert) and not host.insecure_tcp:
        raise ctx.fail(f"{where}.docker_url", (
            f"'{docker_url}' is plain TCP without TLS: anyone who can reach that port is root on the host. "
            "Give tls_ca/tls_cert/tls_key, use ssh://, or set insecure_tcp: true to accept the risk"))
    return host


def _check_hosts(ctx: _Ctx, hosts: List[Host], subnet, ranges, router) -> None:
    names: Dict[str, int] = {}
    addresses: Dict[str, str] = {}
    for i, host in enumerate(hosts):
        where = f"hosts[{i}] ({host.name})"
        if host.name in names:
            raise ctx.fail(where, f"duplicate host name '{host.name}' (also hosts[{names[host.name]}])")
        names[host.name] = i
        if host.address in addresses:
            raise ctx.fail(where, f"address {host.address} is also the address of host '{addresses[host.address]}'")
        addresses[host.address] = host.name
        addr = ipaddress.IPv4Address(host.address)
        if addr not in subnet:
            raise ctx.fail(where, f"address {addr} is outside the subnet {subnet}")
        if addr == router:
            raise ctx.fail(where, f"address {addr} is the router's address")
        for first, last, text in ranges:
            if first <= addr <= last:
                raise ctx.fail(where, f"address {addr} is inside the container pool '{text}'")


# --------------------------------------------------------------------------- public API


def parse_cluster(text: str, source: str) -> Cluster:
    """Parse the text of a cluster file; ``source`` names it in errors and anchors relative paths."""
    ctx = _Ctx(source, os.path.dirname(os.path.abspath(source)))
    data = load_text(text, source)
    if data is None:
        raise ConfigError(f"{source}: the cluster file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the cluster file must be a mapping with 'network' and 'hosts'")
    _mapping(ctx, "top level", data, _TOP_KEYS)
    network, subnet, ranges = _network(ctx, data.get("network"))
    store = _store(ctx, data.get("store"))
    ssh_defaults = _ssh(ctx, "ssh", data.get("ssh"), SshSpec())
    hosts_raw = data.get("hosts")
    if not hosts_raw:
        raise ctx.fail("hosts", "no hosts: give at least one host with a name and an address")
    if not isinstance(hosts_raw, list):
        raise ctx.fail("hosts", "must be a list of hosts")
    hosts = [_host(ctx, i, raw, ssh_defaults) for i, raw in enumerate(hosts_raw)]
    _check_hosts(ctx, hosts, subnet, ranges, ipaddress.IPv4Address(network.router))
    conflict = host_block_area_conflict(network, hosts)
    if conflict is not None:
        raise ctx.fail(f"network.host_blocks[{conflict[0]}]", conflict[1])
    accept = _bool(ctx, "accept_new_host_keys", data.get("accept_new_host_keys", False))
    return Cluster(hosts=tuple(hosts), network=network, store=store, source=source,
                   accept_new_host_keys=accept, lock_ttl_s=_lock(ctx, data.get("lock")))


def load_cluster_file(path: str) -> Cluster:
    """Read and parse the cluster file at ``path``."""
    path = os.path.abspath(path)
    return parse_cluster(read_file(path), path)


def _relative(path: Optional[str], base_dir: Optional[str]) -> Optional[str]:
    if path is None or base_dir is None:
        return path
    rel = os.path.relpath(path, base_dir)
    return path if rel.startswith("..") else rel


def render_cluster(cluster: Cluster, base_dir: Optional[str] = None) -> str:
    """The cluster as cluster-file YAML; paths under ``base_dir`` are written relative to it."""
    net = cluster.network
    data: Dict[str, Any] = {
        "network": {"name": net.name, "bridge": net.bridge, "subnet": net.subnet, "router": net.router,
                    "pools": list(net.pools), "reserved": list(net.reserved), "mtu": net.mtu,
                    "host_block": net.host_block},
    }
    if net.host_blocks:
        data["network"]["host_blocks"] = list(net.host_blocks)
    if net.resolver is None:
        data["network"]["resolver"] = False  # absent would mean on
    else:
        data["network"]["resolver"] = {"upstream": list(net.resolver.upstream), "directory": net.resolver.directory,
                                       "domain": net.resolver.domain}
    if not net.isolation:
        data["network"]["isolation"] = False  # absent would mean on
    store = cluster.store
    if not (store.url.startswith("file://") and base_dir
            and store.url == "file://" + os.path.join(base_dir, "nap-ipam.json")):
        entry: Dict[str, Any] = {"url": store.url, "prefix": store.prefix, "timeout": store.timeout_s}
        for key in ("ca_cert", "cert", "key"):
            if getattr(store, key):
                entry[key] = _relative(getattr(store, key), base_dir)
        for key in ("username", "password"):
            if getattr(store, key):
                entry[key] = getattr(store, key)
        data["store"] = entry
    hosts = []
    for host in cluster.hosts:
        entry = {"name": host.name, "address": host.address, "docker_url": host.docker_url,
                 "ssh": {"user": host.ssh.user, "port": host.ssh.port}}
        if host.ssh.connect_timeout_s != SshSpec.connect_timeout_s:
            entry["ssh"]["connect_timeout"] = host.ssh.connect_timeout_s
        for key in ("key_file", "known_hosts"):
            if getattr(host.ssh, key):
                entry["ssh"][key] = _relative(getattr(host.ssh, key), base_dir)
        if host.labels:
            entry["labels"] = dict(host.labels)
        for key in ("tls_ca", "tls_cert", "tls_key"):
            if getattr(host, key):
                entry[key] = _relative(getattr(host, key), base_dir)
        if host.insecure_tcp:
            entry["insecure_tcp"] = True
        hosts.append(entry)
    data["hosts"] = hosts
    if cluster.accept_new_host_keys:
        data["accept_new_host_keys"] = True
    if cluster.lock_ttl_s != Cluster.lock_ttl_s:
        data["lock"] = {"ttl": cluster.lock_ttl_s}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
