"""Failed requests while a 3-replica HTTP service is updated, polled by a client every 100 ms.

In one run, the same change (a new environment value) to the same service (busybox httpd, 3 replicas,
a healthcheck):
  - nap-compose `up -d`, rolling (stop-first, parallelism 1), across --hosts lab hosts, the client a
    consumer reaching the service through its link alias;
  - the same with `order: start-first` (each new copy beside the old one, at a new address);
  - nap-compose `up -d --no-rolling` (every replica at once, as before rolling updates);
  - docker-compose 1.29.2 `up -d` on ONE lab host (its local socket), the client a plain container on the
    project's network reaching the service by its name (Docker's DNS).
Reported per run: requests during the update, how many failed, and the update's wall time.
Goal: no failed request with nap-compose rolling; its wall time is given as a ratio to all at once.

    python3 bench/bench_rolling.py [--hosts 3] [--keep-lab]
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
import uuid

import benchlib as lib

POLL = ("i=0; while [ $i -lt 6000 ]; do if timeout 2 wget -q -O /tmp/o http://{target}/; then echo ok $(cat /tmp/o); "
        "else echo fail; fi; i=$((i+1)); sleep 0.1; done")
SERVE = "mkdir -p /www && echo v$V > /www/index.html && exec httpd -f -p 80 -h /www"
HEALTH = {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], "interval": "1s", "timeout": "1s",
          "retries": 2}


def compose(version: str, for_docker_compose: bool, order: str = "stop-first") -> dict:
    escape = (lambda s: s.replace("$", "$$"))
    web = {"image": lib.IMAGE, "scale": 3, "stop_signal": "SIGKILL", "environment": {"V": version},
           "command": ["sh", "-c", escape(SERVE)], "healthcheck": HEALTH}
    if not for_docker_compose:
        web["deploy"] = {"update_config": {"order": order}}
    doc = {"version": "2.4", "services": {"web": web}}
    if for_docker_compose:
        doc["networks"] = {"default": {"internal": True, "ipam": {"config": [{"subnet": lib.COMPOSE_SUBNET}]}}}
    else:
        doc["services"]["client"] = {"image": lib.IMAGE, "stop_signal": "SIGKILL", "links": ["web:app"],
                                     "command": ["sh", "-c", escape(POLL.format(target="app"))]}
    return doc


def _stamp(text: str) -> float:
    head, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() + float("0." + (fraction or "0"))


def polls(lines, since: float, until: float):
    """(ok, failed) of the client's lines stamped in [since, until]; ``lines`` are '<stamp> <text>'."""
    ok = failed = 0
    for line in lines:
        stamp, _, text = line.partition(" ")
        try:
            when = _stamp(stamp)
        except ValueError:
            continue
        if since <= when <= until:
            ok += text.startswith("ok ")
            failed += text.startswith("fail")
    return ok, failed


def wait_answering(read_lines, version: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        texts = [line.partition(" ")[2] for line in read_lines()][-3:]
        if texts == [f"ok v{version}"] * 3:
            return
        time.sleep(0.5)
    raise SystemExit(f"the client never got v{version} three times in a row")


def nap_case(cluster: str, rolling: bool, order: str = "stop-first"):
    workdir = tempfile.mkdtemp(prefix="bench-rolling-")
    project = f"rb{uuid.uuid4().hex[:6]}"
    env = lib.nap_env(cluster)

    def nap(*argv, check=True):
        return lib.run(lib.nap_argv("-p", project, *argv), env=env, cwd=workdir, check=check)

    def lines():
        out = nap("logs", "-t", "client")[1].stdout.splitlines()
        return [line.split(" | ", 1)[1] for line in out if " | " in line]

    try:
        lib.write_compose(workdir, compose("1", False, order))
        nap("up", "-d")
        wait_answering(lines, "1")
        lib.write_compose(workdir, compose("2", False, order))
        began = time.time()
        seconds, _ = nap("up", "-d", *(() if rolling else ("--no-rolling",)))
        time.sleep(1.0)
        ok, failed = polls(lines(), began, began + seconds + 1.0)
        return seconds, ok, failed
    finally:
        nap("down", "-t", "1", check=False)


def docker_compose_case(host: str):
    project = f"rd{uuid.uuid4().hex[:6]}"
    # The file lives on that host, as for anyone running docker-compose there: a lab host sees only its
    # own state directory of the operator's disk.
    workdir = os.path.join(lib.LAB_DIR, host, project)
    os.makedirs(workdir)
    poller = f"{project}_poller"

    def on_host(argv, check=True):
        full, env = lib.on_lab_host(host, argv)
        return lib.run(full, env=env, check=check)

    def dc(*verb, check=True):
        return on_host(["docker-compose", "-f", os.path.join(workdir, "docker-compose.yml"), "-p", project, *verb],
                       check=check)

    def lines():
        result = on_host(["docker", "logs", "-t", poller])[1]
        return (result.stdout + result.stderr).splitlines()

    try:
        lib.write_compose(workdir, compose("1", True))
        dc("up", "-d")
        on_host(["docker", "run", "-d", "--name", poller, "--network", f"{project}_default", lib.IMAGE,
                 "sh", "-c", POLL.format(target="web")])
        wait_answering(lines, "1")
        lib.write_compose(workdir, compose("2", True))
        began = time.time()
        seconds, _ = dc("up", "-d")
        time.sleep(1.0)
        ok, failed = polls(lines(), began, began + seconds + 1.0)
        return seconds, ok, failed
    finally:
        on_host(["docker", "rm", "-f", poller], check=False)
        dc("down", "-t", "1", check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()
    started = lib.ensure_lab(max(args.hosts, 1))
    try:
        cluster = lib.cluster_subset(args.hosts)
        rolling = nap_case(cluster, rolling=True)
        start_first = nap_case(cluster, rolling=True, order="start-first")
        at_once = nap_case(cluster, rolling=False)
        baseline = docker_compose_case("node1")
        print("update of a 3-replica HTTP service (new environment value), client polling every 100 ms")
        for label, (seconds, ok, failed) in (
                (f"nap-compose rolling, {args.hosts} hosts (alias)  ", rolling),
                (f"nap-compose start-first, {args.hosts} hosts      ", start_first),
                (f"nap-compose --no-rolling, {args.hosts} hosts     ", at_once),
                ("docker-compose 1.29.2 up -d, 1 host (DNS)", baseline)):
            print(f"  {label}: {seconds:5.1f} s, {ok + failed:4d} requests, {failed:3d} failed")
        print(f"  failed requests: nap-compose rolling {rolling[2]}, start-first {start_first[2]} (goal 0) vs "
              f"docker-compose {baseline[2]}")
        print(f"  wall time rolling / all at once = {lib.ratio(rolling[0], at_once[0])}, "
              f"start-first / all at once = {lib.ratio(start_first[0], at_once[0])}")
    finally:
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    main()
