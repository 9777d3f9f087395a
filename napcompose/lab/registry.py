"""The lab's image registries: Debian's distribution registry (``docker-registry``) on the operator address.

Two of them, each its own process with its storage under DIR/registry: an open one (REGISTRY_PORT)
seeded with the lab image, and one behind htpasswd (AUTH_REGISTRY_PORT) whose user and password
lab up makes and keeps in DIR/registry/credentials.json (mode 600), for tests of pulls with
credentials. Both speak plain HTTP on the lab's own segment only; every lab dockerd trusts them
through its ``insecure-registries`` setting (daemons.daemon_config), so no certificate is needed.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
from dataclasses import dataclass
from typing import Dict, List, Tuple

from napcompose.errors import LabError
from napcompose.lab.layout import IMAGE, AUTH_REGISTRY_PORT, REGISTRY_PORT, Layout

PROGRAM = "docker-registry"
USER = "naplab"


@dataclass(frozen=True)
class LabRegistry:
    """One registry process of the lab: its key among the lab's daemons, address and files."""

    key: str
    address: str  # ADDRESS:PORT
    dir: str
    auth: bool

    @property
    def config(self) -> str:
        return os.path.join(self.dir, "config.yml")

    @property
    def pidfile(self) -> str:
        return os.path.join(self.dir, "registry.pid")

    @property
    def log(self) -> str:
        return os.path.join(self.dir, "registry.log")

    @property
    def storage(self) -> str:
        return os.path.join(self.dir, "data")

    @property
    def htpasswd(self) -> str:
        return os.path.join(self.dir, "htpasswd")


def registries(layout: Layout) -> Tuple[LabRegistry, LabRegistry]:
    """(the open registry, the password-protected one)."""
    return (LabRegistry("registry", f"{layout.operator}:{REGISTRY_PORT}",
                        os.path.join(layout.registry_dir, "open"), False),
            LabRegistry("registry-auth", f"{layout.operator}:{AUTH_REGISTRY_PORT}",
                        os.path.join(layout.registry_dir, "auth"), True))


def credentials_file(layout: Layout) -> str:
    return os.path.join(layout.registry_dir, "credentials.json")


def credentials(layout: Layout) -> Dict[str, str]:
    """{"registry", "username", "password"} of the password-protected registry."""
    try:
        with open(credentials_file(layout)) as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise LabError(f"no credentials of the lab's registry in {credentials_file(layout)}: {exc}") from None


def prepare(layout: Layout) -> None:
    """Write both registries' configs, and the htpasswd file with a new password unless one is kept."""
    import bcrypt  # paramiko's own dependency, so always there with nap-compose

    for registry in registries(layout):
        os.makedirs(registry.storage, exist_ok=True)
    secured = registries(layout)[1]
    path = credentials_file(layout)
    if not os.path.exists(path):
        password = secrets.token_urlsafe(18)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"registry": secured.address, "username": USER, "password": password}, fh)
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
        with open(secured.htpasswd, "w") as fh:
            fh.write(f"{USER}:{hashed}\n")
    for registry in registries(layout):
        with open(registry.config, "w") as fh:
            fh.write(_config(registry))


def _config(registry: LabRegistry) -> str:
    """The registry's YAML config (written by hand: every value is a plain path or address)."""
    lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true", "storage:",
             "  filesystem:", f"    rootdirectory: {registry.storage}", "  delete:", "    enabled: true",
             "http:", f"  addr: {registry.address}", f"  secret: {secrets.token_hex(16)}"]
    if registry.auth:
        lines += ["auth:", "  htpasswd:", "    realm: nap-lab", f"    path: {registry.htpasswd}"]
    return "\n".join(lines) + "\n"


def argv(registry: LabRegistry) -> List[str]:
    return [PROGRAM, "serve", registry.config]


def answers(registry: LabRegistry) -> bool:
    """True when the registry answers its API root (200 open, 401 behind htpasswd)."""
    host, port = registry.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=1.0)
    try:
        conn.request("GET", "/v2/")
        return conn.getresponse().status in ((401,) if registry.auth else (200,))
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def seed(layout: Layout, sock_path: str, host_name: str) -> List[str]:
    """Push the lab image to both registries through one host's daemon; return the references pushed.

    The registry tags are removed from that daemon again, so every host starts without them and a
    pull is a real pull.
    """
    import docker
    import docker.errors

    found = credentials(layout)
    auth = {"username": found["username"], "password": found["password"]}
    repo, tag = IMAGE.rsplit(":", 1)
    client = docker.APIClient(base_url=f"unix://{sock_path}", version="1.41", timeout=120)
    pushed = []
    try:
        for registry in registries(layout):
            target = f"{registry.address}/{repo}"
            client.tag(IMAGE, target, tag)
            try:
                for chunk in client.push(target, tag, stream=True, decode=True,
                                         auth_config=auth if registry.auth else None):
                    error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                    if error:
                        raise LabError(f"{host_name}: pushing {IMAGE} to {registry.address}: {error}")
            finally:
                client.remove_image(f"{target}:{tag}")
            pushed.append(f"{target}:{tag}")
    except docker.errors.DockerException as exc:
        raise LabError(f"{host_name}: pushing {IMAGE} to the lab's registry: {exc}") from exc
    finally:
        client.close()
    return pushed
