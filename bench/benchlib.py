"""Shared pieces of the deploy benchmarks: the bench lab, cluster subsets, compose files, timed runs.

The benchmarks run on their own lab (`napbn`, 198.18.3.0/24, 5 hosts under /tmp/napbn) so they never
disturb a test lab; NAP_BENCH_LAB_NAME, NAP_BENCH_LAB_SUBNET and NAP_BENCH_LAB_DIR choose another one. A benchmark that started the lab tears it down at the end unless --keep-lab.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

LAB_NAME = os.environ.get("NAP_BENCH_LAB_NAME", "napbn")
LAB_SUBNET = os.environ.get("NAP_BENCH_LAB_SUBNET", "198.18.3.0/24")
LAB_DIR = os.environ.get("NAP_BENCH_LAB_DIR", "/tmp/napbn")
IMAGE = "nap-lab/busybox:latest"
# docker-compose's own network for its single-host runs: internal, inside the lab host's namespace.
COMPOSE_SUBNET = "198.18.250.0/24"


def nap_argv(*argv: str) -> List[str]:
    return [sys.executable, "-m", "napcompose", *argv]


def run(argv: Sequence[str], env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
        check: bool = True) -> Tuple[float, subprocess.CompletedProcess]:
    """Run ``argv``; return (seconds, result)."""
    start = time.perf_counter()
    result = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return elapsed, result


def compile_package() -> None:
    """Write the package's bytecode once, as `pip install` does, so no timed run compiles it.

    This machine sets PYTHONDONTWRITEBYTECODE, so a checkout would otherwise compile every module
    in every fresh process (about a second at high load) while docker-compose, installed from a
    package, never does.
    """
    import compileall

    compileall.compile_dir(os.path.join(ROOT, "napcompose"), quiet=1)


def lab_running() -> bool:
    from napcompose.lab.lifecycle import lab_status

    try:
        status = lab_status(LAB_DIR)
    except Exception:
        return False
    hosts_up = all(h["dockerd"]["answers"] and h["sshd"]["running"] for h in status.get("hosts", ()))
    return status.get("phase") == "ready" and hosts_up and os.path.exists(cluster_file())


def ensure_lab(hosts: int = 5) -> bool:
    """Start the bench lab unless it runs; True when this call started it."""
    if lab_running():
        return False
    run(nap_argv("lab", "up", "--name", LAB_NAME, "--subnet", LAB_SUBNET, "--hosts", str(hosts),
                 "--dir", LAB_DIR))
    return True


def lab_down() -> None:
    run(nap_argv("lab", "down", "--dir", LAB_DIR), check=False)


def cluster_file() -> str:
    return os.path.join(LAB_DIR, "nap-cluster.yml")


def cluster_subset(count: int, socket_paths: bool = True, wide_pool: bool = False) -> str:
    """A cluster file with the lab's first ``count`` hosts, next to the lab's (relative paths hold).

    With ``socket_paths`` each ssh:// URL names the host's Docker socket (a lab host's socket is
    not at Docker's default path), so Docker is reached over a stream-local channel; without, the
    stream-local open is refused and every connection runs ``docker system dial-stdio``. With
    ``wide_pool`` the pool also takes the host-block area the lab's hosts do not use (see use_pool_of).
    """
    with open(cluster_file()) as f:
        data = yaml.safe_load(f)
    if wide_pool:
        _pool_from_spare_blocks(data)
    data["hosts"] = data["hosts"][:count]
    for host in data["hosts"]:
        url = host.get("docker_url", "")
        if socket_paths and url.startswith("ssh://") and url.count("/") == 2:
            host["docker_url"] = url + os.path.join(LAB_DIR, host["name"], "docker.sock")
    suffix = "" if socket_paths else "-dial-stdio"
    path = os.path.join(LAB_DIR, f"bench-cluster-{count}{suffix}.yml")
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def _pool_from_spare_blocks(data: Dict) -> None:
    """Give the pool the host-block area past the lab's hosts' blocks.

    The lab's pool (.160-.249) holds 90 addresses; the 100-container `ps` needs more. The lab
    hands out one block per host from the start of its host-block area, so the area's tail is free.
    """
    import ipaddress

    net = data["network"]
    areas = net.get("host_blocks") or []
    if len(areas) != 1 or "-" not in areas[0]:
        return
    first, last = (ipaddress.ip_address(part) for part in areas[0].split("-"))
    size = 2 ** (32 - int(net.get("host_block", 28)))
    end = first + size * len(data["hosts"]) - 1
    if end >= last:
        return
    net["host_blocks"] = [f"{first}-{end}"]
    net["pools"] = list(net.get("pools") or []) + [f"{end + 1}-{last}"]


def use_pool_of(cluster: str) -> None:
    """Record ``cluster``'s pool in the lab's store (the bench files' pool is wider than the lab's)."""
    run(nap_argv("--cluster", cluster, "ipam", "init", "--force"), env=nap_env(cluster))


def restore_lab_pool() -> None:
    run(nap_argv("--cluster", cluster_file(), "ipam", "init", "--force"), env=nap_env(cluster_file()),
        check=False)


def chain_services(services: int, scale: int, for_docker_compose: bool = False) -> Dict:
    """``services`` services of ``scale`` busybox sleepers, each linking the one before."""
    doc: Dict = {"version": "2.4", "services": {}}
    for i in range(1, services + 1):
        spec: Dict = {"image": IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": scale}
        if i > 1:
            spec["links"] = [f"s{i - 1:02d}"]
        doc["services"][f"s{i:02d}"] = spec
    if for_docker_compose:
        doc["networks"] = {"default": {"internal": True, "ipam": {"config": [{"subnet": COMPOSE_SUBNET}]}}}
    return doc


def write_compose(directory: str, doc: Dict, name: str = "docker-compose.yml") -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def host_workdir(host: str, prefix: str) -> str:
    """A new directory a lab host can see (its own directory under the lab's): a lab host hides /tmp."""
    import tempfile

    return tempfile.mkdtemp(prefix=prefix, dir=os.path.join(LAB_DIR, host))


def nap_env(cluster: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["NAP_CLUSTER"] = cluster
    env["PYTHONPATH"] = ROOT
    return env


def on_lab_host(host: str, argv: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """argv/env running ``argv`` inside a lab host's namespace against its local Docker socket."""
    from napcompose.lab.lifecycle import exec_argv

    argv, env = exec_argv(LAB_DIR, host, list(argv))
    # docker-compose gives up on a request after 60 s; a machine busy with other work can take longer
    # to create 100 containers, and a setup that fails measures nothing.
    env = dict(env or os.environ)
    env.setdefault("COMPOSE_HTTP_TIMEOUT", "600")
    return argv, env


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def load_average() -> str:
    """The one-minute load average now, for the figures printed beside it."""
    return f"{os.getloadavg()[0]:.1f}"
