"""Checks across services: references, hosts-file-safe names, scale rules, addresses, cycles."""

from __future__ import annotations

import ipaddress

from napcompose.config.names import check_name
from napcompose.config.schema import suggest
from napcompose.errors import ConfigError
from napcompose.graph import check_project_acyclic, edges_of


def _fail(origins, service, key, message):
    raise ConfigError(f"{origins[service].where(key)}: service '{service}': {key}: {message}")


def _check_names(spec, origins):
    where = origins[spec.name].where
    check_name(spec.name, where(), spec.name, "service name")
    for link in spec.links + spec.external_links:
        key = "links" if link in spec.links else "external_links"
        check_name(link.service, where(key), spec.name, key)
        check_name(link.alias, where(key), spec.name, key)
    for key in ("hostname", "domainname", "container_name"):
        value = getattr(spec, key)
        if value is not None:
            check_name(value, where(key), spec.name, key)
    for net in spec.networks:
        for alias in net.aliases:
            key = f"networks.{net.name}.aliases"
            check_name(alias, where(key), spec.name, key)
    for name, address in spec.extra_hosts:
        check_name(name, where("extra_hosts"), spec.name, "extra_hosts")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            _fail(origins, spec.name, "extra_hosts", f"{address!r} (for {name!r}) is not an IP address")


def _check_references(names, spec, origins):
    # The graph's own reading of the references, so that the two can never disagree.
    refs = [("links" if kind == "link" else kind, target) for target, kind in edges_of(spec)]
    refs += [("x-nap", other) for other in spec.placement.affinity + spec.placement.anti_affinity]
    for key, target in refs:
        if target is not None and target not in names:
            _fail(origins, spec.name, key,
                  f"refers to service '{target}', which is not defined{suggest(target, names - {spec.name})}")


def _subnets(sections, network):
    conf = (sections.get("networks") or {}).get(network) or {}
    out = []
    for entry in ((conf.get("ipam") or {}).get("config") or []):
        if entry.get("subnet"):
            try:
                out.append(ipaddress.ip_network(str(entry["subnet"]), strict=False))
            except ValueError:
                raise ConfigError(f"network '{network}': ipam subnet {entry['subnet']!r} is not a "
                                  "CIDR subnet") from None
    return out


def _check_networks(project, spec, sections, origins, is_v1):
    declared = set((sections.get("networks") or {}))
    for net in spec.networks:
        if not is_v1 and net.name != "default" and net.name not in declared:
            _fail(origins, spec.name, "networks",
                  f"uses network '{net.name}', which is not defined under the top-level networks"
                  f"{suggest(net.name, declared)}")
        if net.ipv4_address is None:
            continue
        key = f"networks.{net.name}.ipv4_address"
        try:
            first = ipaddress.IPv4Address(net.ipv4_address)
        except ValueError:
            _fail(origins, spec.name, key, f"{net.ipv4_address!r} is not an IPv4 address")
        subnets = _subnets(sections, net.name)
        # Replica n of a scaled service takes ipv4_address + (n - 1): every one must fit.
        last = first + max(spec.scale - 1, 0) if int(first) + max(spec.scale - 1, 0) <= 2**32 - 1 else None
        for address in (first, last):
            if subnets and (address is None or not any(address in s for s in subnets)):
                shown = address if address is not None else "beyond 255.255.255.255"
                which = "" if address == first else f" (replica {spec.scale} would get {shown})"
                _fail(origins, spec.name, key,
                      f"{net.ipv4_address}{which} is outside the subnet of network '{net.name}' "
                      f"({', '.join(str(s) for s in subnets)})")


def _check_volumes(spec, sections, origins, is_v1):
    if is_v1:
        return
    declared = set(sections.get("volumes") or {})
    for entry in spec.volumes:
        source, sep, _ = entry.partition(":")
        if sep and source and not source.startswith(("/", ".", "~")) and source not in declared:
            _fail(origins, spec.name, "volumes",
                  f"named volume '{source}' is used but not declared under the top-level volumes"
                  f"{suggest(source, declared)}")


def check_project(project, sections, origins, is_v1):
    """Raise ConfigError (or DependencyCycleError) at the first cross-service problem."""
    names = frozenset(project.service_names)  # once: a project may have thousands of services
    for spec in project.services:
        _check_names(spec, origins)
        _check_references(names, spec, origins)
        if spec.container_name is not None and spec.scale > 1:
            _fail(origins, spec.name, "container_name",
                  f"'{spec.container_name}' is fixed, so the service cannot run {spec.scale} replicas; "
                  "remove container_name or set scale to 1")
        _check_networks(project, spec, sections, origins, is_v1)
        _check_volumes(spec, sections, origins, is_v1)
    check_project_acyclic(project)
