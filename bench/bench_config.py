"""Parse + validate + graph of a generated 1,000-service compose file, beside docker-compose 1.29.2.

Run: python3 bench/bench_config.py [--services N] [--repeat R]
Prints the best wall time of R runs for: nap-compose in process (parse, validate, graph),
``nap-compose config -q`` as a subprocess, and ``docker-compose -f same.yml config -q``; then the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def generate(count: int) -> str:
    """A version 2.4 file: each service links to and depends on up to two earlier ones."""
    lines = ["version: '2.4'", "services:"]
    for i in range(count):
        lines += [f"  svc{i}:", "    image: 'busybox:${TAG:-latest}'", "    command: ['sleep', '1000']",
                  "    environment:", f"      INDEX: '{i}'", "      ROLE: worker",
                  f"    ports: ['{10000 + i}:80']", "    labels: {tier: back}"]
        if i:
            lines.append(f"    links: ['svc{i - 1}:prev']")
        if i > 1:
            lines.append(f"    depends_on: [svc{i // 2}]")
    return "\n".join(lines) + "\n"


def best_of(repeat, func):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()

    from napcompose.config import load_project
    from napcompose.graph import start_waves

    workdir = tempfile.mkdtemp(prefix="nap-bench-")
    try:
        path = os.path.join(workdir, "docker-compose.yml")
        with open(path, "w") as handle:
            handle.write(generate(opts.services))
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir}

        def in_process():
            project = load_project(files=[path], environ={}, cwd=workdir)
            start_waves(project)

        def nap_cli():
            subprocess.run([sys.executable, "-m", "napcompose", "-f", path, "config", "-q"], cwd=workdir,
                           env={**env, "PYTHONPATH": ROOT}, check=True)

        def docker_compose():
            subprocess.run(["docker-compose", "-f", path, "config", "-q"], cwd=workdir, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        ours = best_of(opts.repeat, in_process)
        ours_cli = best_of(opts.repeat, nap_cli)
        if shutil.which("docker-compose") is None:
            print("docker-compose not found: cannot compare", file=sys.stderr)
            return 1
        theirs = best_of(opts.repeat, docker_compose)
        print(f"services: {opts.services}, best of {opts.repeat}")
        print(f"nap-compose in process (parse+validate+graph): {ours:.3f} s")
        print(f"nap-compose config -q (subprocess):            {ours_cli:.3f} s")
        print(f"docker-compose config -q (subprocess):         {theirs:.3f} s")
        print(f"ratio in process / docker-compose:  {ours / theirs:.2f}x (goal <= 0.5x)")
        print(f"ratio subprocess / docker-compose:  {ours_cli / theirs:.2f}x")
    finally:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
