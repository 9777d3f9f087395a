"""What a lab records about itself: DIR/state.json, and a per-name claim under /run/nap-lab.

The claim ties a lab name (which prefixes namespaces and links) to the DIR that made them, so a second
lab with the same name elsewhere is refused while the first runs, and a crashed one can be found and
cleaned. /run is emptied at boot, exactly when the namespaces vanish too.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional

from napcompose.errors import LabError
from napcompose.lab.layout import Layout, make_layout

REGISTRY_DIR = "/run/nap-lab"


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabError(f"{path}: unreadable lab state: {exc}") from exc


def _write_json(path: str, data: Dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def read_state(directory: str) -> Optional[Dict[str, Any]]:
    return _read_json(os.path.join(os.path.abspath(directory), "state.json"))


def write_state(layout: Layout, phase: str, pids: Dict[str, int], **extra: Any) -> Dict[str, Any]:
    state = {
        "name": layout.name, "subnet": layout.subnet, "hosts": len(layout.hosts), "dir": layout.dir,
        "phase": phase, "updated": time.time(), "pids": pids,
        "namespaces": list(layout.netns_names),
        "links": [layout.switch, layout.router_veth] + [h.veth for h in layout.hosts],
        "cgroups": [layout.cgroup_parent(h) for h in layout.hosts],
        "router": layout.router, "operator": layout.operator, "etcd_url": layout.etcd_url,
        "cluster_file": layout.cluster_file,
    }
    state.update(extra)
    _write_json(layout.state_file, state)
    return state


def update_state(layout: Layout, **changes: Any) -> Dict[str, Any]:
    """Change some fields of DIR/state.json, keeping the others."""
    recorded = read_state(layout.dir) or {}
    recorded.update(changes, updated=time.time())
    _write_json(layout.state_file, recorded)
    return recorded


def layout_of(state: Dict[str, Any]) -> Layout:
    return make_layout(state["name"], state["subnet"], int(state["hosts"]), state["dir"])


def claim_path(name: str) -> str:
    return os.path.join(REGISTRY_DIR, f"{name}.json")


def read_claim(name: str) -> Optional[Dict[str, Any]]:
    return _read_json(claim_path(name))


def write_claim(layout: Layout) -> None:
    os.makedirs(REGISTRY_DIR, exist_ok=True)
    _write_json(claim_path(layout.name), {"name": layout.name, "subnet": layout.subnet,
                                          "hosts": len(layout.hosts), "dir": layout.dir})


def drop_claim(layout: Layout) -> None:
    claim = read_claim(layout.name)
    if claim is not None and claim.get("dir") == layout.dir:
        os.unlink(claim_path(layout.name))
