"""`up -d --force-recreate -t 1` of a service with no healthcheck and no `update_config`.

In the same rounds, on the bench lab: nap-compose over --hosts lab hosts, and docker-compose 1.29.2 on one
lab host (through its local socket, as its users run it), each recreating a --scale-replica busybox
sleeper; then nap-compose again with `deploy.update_config: {}` declared (a rolling update, batch by
batch, each batch waiting for the default 5 s monitor). Every case first runs `up -d` untimed. Medians
of --rounds; goal: the default (nothing declared) <= 1.3x docker-compose.

    python3 bench/bench_recreate.py [--hosts 2] [--scale 2] [--rounds 3] [--keep-lab]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import uuid

import benchlib as lib


def compose(scale: int, for_docker_compose: bool, declared: bool) -> dict:
    web = {"image": lib.IMAGE, "command": ["sleep", "3600"], "scale": scale}
    if declared:
        web["deploy"] = {"update_config": {}}
    doc = {"version": "2.4", "services": {"web": web}}
    if for_docker_compose:
        doc["networks"] = {"default": {"internal": True, "ipam": {"config": [{"subnet": lib.COMPOSE_SUBNET}]}}}
    return doc


def nap_case(cluster: str, scale: int, declared: bool) -> float:
    workdir = tempfile.mkdtemp(prefix="bench-recreate-")
    project = f"rc{uuid.uuid4().hex[:6]}"
    env = lib.nap_env(cluster)

    def nap(*argv, check=True):
        return lib.run(lib.nap_argv("-p", project, *argv), env=env, cwd=workdir, check=check)

    try:
        lib.write_compose(workdir, compose(scale, False, declared))
        nap("up", "-d")
        seconds, _ = nap("up", "-d", "--force-recreate", "-t", "1")
        return seconds
    finally:
        nap("down", "-t", "1", check=False)


def docker_compose_case(host: str, scale: int) -> float:
    project = f"rcd{uuid.uuid4().hex[:6]}"
    workdir = os.path.join(lib.LAB_DIR, host, project)  # a lab host sees only its own directory
    os.makedirs(workdir)

    def dc(*verb, check=True):
        argv, env = lib.on_lab_host(host, ["docker-compose", "-f", os.path.join(workdir, "docker-compose.yml"),
                                           "-p", project, *verb])
        return lib.run(argv, env=env, check=check)

    try:
        lib.write_compose(workdir, compose(scale, True, False))
        dc("up", "-d", "--scale", f"web={scale}")
        seconds, _ = dc("up", "-d", "--force-recreate", "-t", "1", "--scale", f"web={scale}")
        return seconds
    finally:
        dc("down", "-t", "1", check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()
    started = lib.ensure_lab(max(args.hosts, 1))
    try:
        lib.compile_package()
        cluster = lib.cluster_subset(args.hosts)
        host = "node1"
        print(f"recreate of {args.scale} replicas, no healthcheck; load average {lib_load()}")
        runs = {"default": [], "declared": [], "docker-compose": []}
        for _ in range(args.rounds):
            runs["default"].append(nap_case(cluster, args.scale, declared=False))
            runs["docker-compose"].append(docker_compose_case(host, args.scale))
            runs["declared"].append(nap_case(cluster, args.scale, declared=True))
        med = {k: statistics.median(v) for k, v in runs.items()}
        for key, title in (("default", f"nap-compose, {args.hosts} hosts, nothing declared (all at once)"),
                           ("declared", f"nap-compose, {args.hosts} hosts, update_config: {{}} (rolling)"),
                           ("docker-compose", "docker-compose 1.29.2, 1 host")):
            print(f"  {title:<58} {med[key]:6.2f} s (runs: {', '.join(f'{s:.2f}' for s in runs[key])})")
        print(f"  default / docker-compose = {lib.ratio(med['default'], med['docker-compose'])} (goal <= 1.3x); "
              f"rolling / docker-compose = {lib.ratio(med['declared'], med['docker-compose'])}")
        print(f"  load average at the end {lib_load()}")
    finally:
        if started and not args.keep_lab:
            lib.lab_down()


def lib_load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
