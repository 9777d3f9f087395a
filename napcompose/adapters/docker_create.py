"""A ContainerRequest as docker-py's low-level ``create_container`` arguments (host config, networking,
labels): the translation only, no call to Docker.
"""

from __future__ import annotations

from typing import Optional

from napcompose.adapters.host_options import host_options
from napcompose.model import ContainerRequest

_NANO = 1_000_000_000  # Docker counts CPUs and durations in nanoseconds


def _first_seen(values) -> list:
    """``values`` in order, each once."""
    return list(dict.fromkeys(values))


def create_kwargs(api, request: ContainerRequest) -> dict:
    """docker-py ``create_container`` arguments for ``request``; only the cluster network is joined."""
    spec = request.spec
    ports = [(p.container_port, p.protocol) for p in spec.ports + spec.expose]
    bindings = {}
    for port in spec.ports:
        key = f"{port.container_port}/{port.protocol}"
        # docker-py: an int or None (any address), (ip, port), or (ip,) for an ephemeral port on ip.
        if port.host_ip:
            target = (port.host_ip, port.host_port) if port.host_port else (port.host_ip,)
        else:
            target = port.host_port
        bindings.setdefault(key, []).append(target)
    binds, anonymous = [], []
    for volume in spec.volumes:
        (binds if ":" in volume else anonymous).append(volume)
    host_config = api.create_host_config(
        binds=binds or None,
        port_bindings=bindings or None,
        privileged=spec.privileged,
        dns=_first_seen(request.dns + spec.dns) or None,
        dns_search=_first_seen(request.dns_search + spec.dns_search) or None,
        network_mode=request.network,
        restart_policy=_restart_policy(spec.restart),
        cap_add=list(spec.cap_add) or None,
        cap_drop=list(spec.cap_drop) or None,
        extra_hosts=[f"{name}:{address}" for name, address in request.extra_hosts] or None,
        read_only=spec.read_only or None,
        pid_mode=spec.pid,
        ipc_mode=spec.ipc,
        ulimits=_ulimits(spec.ulimits),
        log_config=_log_config(spec.logging),
        mem_limit=spec.mem_limit,
        mem_reservation=spec.mem_reservation,
        nano_cpus=int(spec.cpus * _NANO) if spec.cpus else None,
        shm_size=spec.shm_size,
        sysctls=dict(spec.sysctls) or None,
        tmpfs=_tmpfs(spec.tmpfs),
        init=spec.init,
        **host_options(spec),
    )
    # No DNS aliases on the endpoint: the flat network is shared by every project, and Docker's
    # embedded resolver answers a name with whichever container on the same host carries it, of any
    # project. Peers are resolved through the hosts entries nap-compose writes, on every host alike.
    networking = api.create_networking_config({
        request.network: api.create_endpoint_config(ipv4_address=request.ip,
                                                    link_local_ips=_link_local_ips(spec)),
    })
    return dict(
        image=request.image,
        name=request.name,
        command=list(spec.command) if spec.command is not None else None,
        entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
        environment=[f"{k}={v}" for k, v in spec.environment] or None,
        labels=dict(request.labels),
        ports=ports or None,
        volumes=anonymous or None,
        hostname=spec.hostname,
        domainname=spec.domainname,
        user=spec.user,
        working_dir=spec.working_dir,
        stop_signal=spec.stop_signal,
        stop_timeout=int(spec.stop_grace_period_s) if spec.stop_grace_period_s is not None else None,
        tty=spec.tty,
        stdin_open=spec.stdin_open,
        healthcheck=_healthcheck(spec.healthcheck),
        host_config=host_config,
        networking_config=networking,
    )


def _link_local_ips(spec):
    """Every compose network of a service is the one cluster network: its endpoint takes them all."""
    found = [ip for network in spec.networks for ip in network.link_local_ips]
    return list(dict.fromkeys(found)) or None


def _restart_policy(restart: Optional[str]):
    if not restart or restart == "no":
        return None
    name, _, count = restart.partition(":")
    policy = {"Name": name}
    if count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def _ulimits(ulimits):
    if not ulimits:
        return None
    from docker.types import Ulimit

    return [Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in ulimits]


def _log_config(logging):
    if logging is None or not logging.driver:
        return None
    from docker.types import LogConfig

    return LogConfig(type=logging.driver, config=dict(logging.options))


def _tmpfs(entries):
    if not entries:
        return None
    mounts = {}
    for entry in entries:
        path, _, options = entry.partition(":")
        mounts[path] = options
    return mounts


def _healthcheck(check):
    if check is None:
        return None
    if check.disable:
        return {"test": ["NONE"]}
    seconds = {"interval": check.interval_s, "timeout": check.timeout_s,
               "start_period": check.start_period_s}
    result = {"test": list(check.test)} if check.test else {}
    for key, value in seconds.items():
        if value is not None:
            result[key] = int(value * _NANO)
    if check.retries is not None:
        result["retries"] = check.retries
    return result

