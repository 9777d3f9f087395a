"""SSH for the lab: the operator's key, a host key and sshd_config per host, the operator's known_hosts.

Lab hosts are reached as real hosts are, so host-key checking stays on: the known_hosts file written
here lists every host's generated key under its address.
"""

from __future__ import annotations

import os
from typing import List

from napcompose.lab.layout import Layout, LabHost
from napcompose.lab.netns import run


def keygen(path: str, comment: str) -> None:
    """An ed25519 key pair at ``path`` (and ``path``.pub), kept when it already exists."""
    if os.path.exists(path) and os.path.exists(path + ".pub"):
        return
    for stale in (path, path + ".pub"):
        if os.path.exists(stale):
            os.unlink(stale)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])


def public_key(path: str) -> str:
    with open(path + ".pub") as fh:
        return fh.read().strip()


def write_sshd_config(layout: Layout, host: LabHost) -> None:
    authorized = host.authorized_keys  # inside the host's state dir: the only part of DIR it sees
    lines: List[str] = [
        f"ListenAddress {host.address}:22",
        f"HostKey {host.host_key}",
        "PidFile none",  # the lab records the pid itself when it starts sshd
        f"AuthorizedKeysFile {authorized}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        # The lab's files live under a directory such as /tmp whose modes sshd's strict check rejects.
        "StrictModes no",
        "AllowAgentForwarding no",
        # nap-compose reaches the Docker socket over a direct-streamlocal channel, as on a host with
        # OpenSSH's defaults. sshd grants stream-local and TCP opens together ("local" allows both,
        # never a listener); a lab host has no route out, so a TCP open reaches only the lab.
        "AllowTcpForwarding local",
        "AllowStreamLocalForwarding local",
        "X11Forwarding no",
        "PrintMotd no",
        "MaxSessions 64",
        "MaxStartups 64:30:128",
        "LogLevel ERROR",
        f"SetEnv DOCKER_HOST=unix://{host.docker_sock}",
        "Subsystem sftp internal-sftp",
    ]
    with open(host.sshd_config, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def prepare_ssh(layout: Layout) -> None:
    """Keys and configs for every host, the operator's authorised key and known_hosts."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    keygen(layout.operator_key, f"nap-lab-{layout.name}-operator")
    known = []
    for host in layout.hosts:
        with open(host.authorized_keys, "w") as fh:
            fh.write(public_key(layout.operator_key) + "\n")
        os.chmod(host.authorized_keys, 0o600)
        keygen(host.host_key, f"nap-lab-{layout.name}-{host.name}")
        write_sshd_config(layout, host)
        kind, blob = public_key(host.host_key).split()[:2]
        known.append(f"{host.address} {kind} {blob}")
    with open(layout.known_hosts, "w") as fh:
        fh.write("\n".join(known) + "\n")
    os.chmod(layout.known_hosts, 0o600)
