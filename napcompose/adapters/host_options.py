"""A ServiceSpec's host options (confinement, namespaces, devices, kernel tuning) as docker-py
``create_host_config`` arguments: the translation only, no call to Docker.

An option left unset is not passed at all, so the engine's own default applies, as before these
options were sent.
"""

from __future__ import annotations

from napcompose.model import BlkioConfig, ServiceSpec


def host_options(spec: ServiceSpec) -> dict:
    """The ``create_host_config`` keyword arguments of the host options ``spec`` sets."""
    given = dict(
        security_opt=list(spec.security_opt) or None,
        group_add=list(spec.group_add) or None,
        pids_limit=spec.pids_limit,
        runtime=spec.runtime,
        userns_mode=spec.userns_mode,
        cgroupns=spec.cgroup,
        uts_mode=spec.uts,
        # As mappings, so that a path holding ':' is not split by docker-py.
        devices=[{"PathOnHost": d.source, "PathInContainer": d.target, "CgroupPermissions": d.permissions}
                 for d in spec.devices] or None,
        device_cgroup_rules=list(spec.device_cgroup_rules) or None,
        cpu_shares=spec.cpu_shares,
        cpuset_cpus=spec.cpuset,
        cpu_period=spec.cpu_period,
        cpu_quota=spec.cpu_quota,
        cpu_rt_period=spec.cpu_rt_period,
        cpu_rt_runtime=spec.cpu_rt_runtime,
        oom_kill_disable=spec.oom_kill_disable or None,
        oom_score_adj=spec.oom_score_adj,
        mem_swappiness=spec.mem_swappiness,
        memswap_limit=spec.memswap_limit,
        storage_opt=dict(spec.storage_opt) or None,
        dns_opt=list(spec.dns_opt) or None,
        cgroup_parent=spec.cgroup_parent,
        **_blkio(spec.blkio),
    )
    return {key: value for key, value in given.items() if value is not None}


def _blkio(blkio: BlkioConfig) -> dict:
    if blkio is None:
        return {}

    def rates(pairs, field):
        return [{"Path": path, field: value} for path, value in pairs] or None

    return dict(blkio_weight=blkio.weight,
                blkio_weight_device=rates(blkio.weight_device, "Weight"),
                device_read_bps=rates(blkio.device_read_bps, "Rate"),
                device_read_iops=rates(blkio.device_read_iops, "Rate"),
                device_write_bps=rates(blkio.device_write_bps, "Rate"),
                device_write_iops=rates(blkio.device_write_iops, "Rate"))
