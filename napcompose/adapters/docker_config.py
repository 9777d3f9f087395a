"""The operator's registry credentials, read from the Docker config file (``docker login`` writes it).

``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``; its ``auths`` map a registry to
``{"auth": base64("user:password")}`` (or ``username``/``password``, or an ``identitytoken``).
The credentials go with each pull or push as that request's X-Registry-Auth, so the hosts need no
login of their own. Credential helpers (``credsStore``, ``credHelpers``) are not run. Nothing read
here is ever logged: errors name the file and the registry only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Callable, Dict, Mapping, Optional

from napcompose.errors import ConfigError
from napcompose.imageref import DOCKER_HUB
from napcompose.model import RegistryAuth

_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


def config_path(environ: Mapping[str, str] = os.environ) -> str:
    home = environ.get("HOME") or os.path.expanduser("~")
    directory = environ.get("DOCKER_CONFIG") or os.path.join(home, ".docker")
    return os.path.join(directory, "config.json")


def registry_key(server: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``http://h:5000/`` → ``h:5000``."""
    host = server.split("://", 1)[-1].split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def read_auths(path: str) -> Dict[str, RegistryAuth]:
    """Every registry's credentials in the config file at ``path`` ({} when there is none)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the Docker config: {type(exc).__name__}") from None
    found: Dict[str, RegistryAuth] = {}
    for server, entry in ((data or {}).get("auths") or {}).items():
        key = registry_key(server)
        entry = entry or {}
        if entry.get("identitytoken"):
            found[key] = RegistryAuth(key, identity_token=str(entry["identitytoken"]))
        elif entry.get("auth"):
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise ConfigError(f"{path}: the auth of registry {key} is not base64 of user:password") from None
            if not sep:
                raise ConfigError(f"{path}: the auth of registry {key} is not base64 of user:password")
            found[key] = RegistryAuth(key, user, password)
        elif entry.get("username"):
            found[key] = RegistryAuth(key, str(entry["username"]), str(entry.get("password") or ""))
    return found


def credentials(environ: Mapping[str, str] = os.environ) -> Callable[[str], Optional[RegistryAuth]]:
    """``registry -> RegistryAuth or None`` over the operator's Docker config, read once."""
    auths = read_auths(config_path(environ))
    return lambda registry: auths.get(registry_key(registry))
