"""The flat network each host must have, and how a found network differs from it.

On every host the cluster network is a Docker bridge network whose Linux bridge is the cluster's
``bridge`` (br0), with the whole subnet, the host's own address as gateway (so br0 carries the host's
address once the NIC is enslaved) and the router as the containers' default gateway. Pure functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from napcompose.model import pairs
from napcompose.clustermodel import ClusterNetwork, Host, NetworkOptions

OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MTU = "com.docker.network.driver.mtu"
AUX_ROUTER = "DefaultGatewayIPv4"

# What Docker assumes when an option was never given; a found network is compared after these.
_DRIVER_DEFAULTS = {OPT_MASQUERADE: "true", OPT_ICC: "true", OPT_MTU: "1500"}


@dataclass(frozen=True)
class NetworkResult:
    """What ``network create`` did or found on one host."""

    host: str
    status: str  # created | present | recreated | drift | failed
    detail: str = ""
    drift: Tuple[str, ...] = ()
    block: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status in ("created", "present", "recreated")


def desired_network(network: ClusterNetwork, host: Host, block: Optional[str] = None) -> NetworkOptions:
    """The network ``host`` must have for ``network``, with ``block`` (the host's block) as ip-range."""
    return NetworkOptions(
        name=network.name,
        driver="bridge",
        subnet=network.subnet,
        gateway=host.address,
        ip_range=block,
        aux_addresses=pairs({AUX_ROUTER: network.router}),
        options=pairs({OPT_BRIDGE_NAME: network.bridge, OPT_MASQUERADE: "false", OPT_ICC: "true",
                       OPT_MTU: str(network.mtu)}),
    )


def options_from_inspect(attrs: Mapping[str, Any]) -> NetworkOptions:
    """Rebuild NetworkOptions from ``docker network inspect`` output (one network's dict)."""
    configs = ((attrs.get("IPAM") or {}).get("Config") or [])
    first: Dict[str, Any] = configs[0] if configs else {}
    return NetworkOptions(
        name=attrs.get("Name", ""),
        driver=attrs.get("Driver", ""),
        subnet=first.get("Subnet"),
        gateway=first.get("Gateway"),
        ip_range=first.get("IPRange") or None,
        aux_addresses=pairs(first.get("AuxiliaryAddresses") or {}),
        options=pairs(attrs.get("Options") or {}),
    )


def network_drift(desired: NetworkOptions, found: NetworkOptions) -> Tuple[str, ...]:
    """Every difference between ``found`` and ``desired``, as ``what: want X, found Y`` lines."""
    diffs = []

    def compare(label, want, got):
        if want != got:
            diffs.append(f"{label}: want {want if want is not None else '(none)'}, "
                         f"found {got if got is not None else '(none)'}")

    compare("driver", desired.driver, found.driver)
    compare("subnet", desired.subnet, found.subnet)
    compare("gateway", desired.gateway, found.gateway)
    compare("ip-range", desired.ip_range, found.ip_range)
    want_aux, got_aux = dict(desired.aux_addresses), dict(found.aux_addresses)
    for key in sorted(set(want_aux) | set(got_aux)):
        compare(f"aux-address {key}", want_aux.get(key), got_aux.get(key))
    want_opts, got_opts = dict(desired.options), dict(found.options)
    for key in sorted(want_opts):
        compare(f"option {key}", want_opts[key], got_opts.get(key, _DRIVER_DEFAULTS.get(key)))
    return tuple(diffs)


def create_arguments(desired: NetworkOptions) -> Dict[str, Any]:
    """The pieces ``docker network create`` needs, as plain values (the adapter builds the SDK call)."""
    return {
        "name": desired.name,
        "driver": desired.driver,
        "subnet": desired.subnet,
        "gateway": desired.gateway,
        "ip_range": desired.ip_range,
        "aux_addresses": dict(desired.aux_addresses),
        "options": dict(desired.options),
    }


def migration_step(network: str, found: NetworkOptions, desired: NetworkOptions,
                   containers: Tuple[str, ...]) -> str:
    """How to give a network made without the host's block (or with another one) its block.

    Docker cannot change a network's ip-range in place: the network has to be made again, which
    needs every container off it.
    """
    what = ("has no host block" if found.ip_range is None
            else f"has ip-range {found.ip_range}, not its block {desired.ip_range}")
    step = (f"network {network} {what}: Docker cannot change an ip-range in place, so containers started on it "
            f"without an address may take addresses another host hands out. ")
    if not containers:
        return step + "No container is attached: run `nap-compose network create --recreate-empty`"
    return step + (f"Remove the {len(containers)} container(s) attached ({', '.join(containers)}; "
                   "`nap-compose down` for a nap-compose project), run `nap-compose network create "
                   "--recreate-empty`, then start them again (`nap-compose up`)")


def decide(host: str, desired: NetworkOptions, found: Optional[NetworkOptions], containers: Tuple[str, ...],
           recreate_empty: bool) -> Tuple[str, NetworkResult]:
    """What ``network create`` does on one host: ("create" | "recreate" | "none", the result to report).

    An existing network that differs is left as it is, unless ``recreate_empty`` and no container is
    attached; a network lacking its host block gets the exact step that migrates it.
    """
    name, block = desired.name, desired.ip_range
    if found is None:
        return "create", NetworkResult(host, "created", (
            f"network {name}: subnet {desired.subnet}, host block {block or '(none)'}, gateway {desired.gateway}, "
            f"router {dict(desired.aux_addresses).get(AUX_ROUTER)}"), block=block)
    drift = network_drift(desired, found)
    if not drift:
        return "none", NetworkResult(host, "present", f"network {name} already as wanted", block=block)
    if recreate_empty and not containers:
        return "recreate", NetworkResult(host, "recreated", (
            f"network {name} had no container attached and was made again (host block {block or '(none)'})"),
            drift, block=block)
    if recreate_empty:
        detail = (f"network {name} differs from the cluster file and is not recreated: {len(containers)} "
                  f"container(s) attached ({', '.join(containers)})")
    elif found.ip_range != desired.ip_range:
        detail = migration_step(name, found, desired, containers)
    else:
        detail = f"network {name} differs from the cluster file ({len(containers)} container(s) attached; left as it is)"
    return "none", NetworkResult(host, "drift", detail, drift, block=block)
