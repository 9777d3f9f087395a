"""`ps` loads only what listing a project needs: a fresh process that lists one (a host down, so the
store is read for its stand-ins) imports neither the planner, the executor, the orchestrator, the
reconciler, the project lock nor networkx. Each is tens of milliseconds of CPU per `ps`, which a
loaded machine turns into most of its wall time."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Run in a fresh interpreter: the test session has imported everything already.
LIST_A_PROJECT = textwrap.dedent("""\
    import io, sys, tempfile, os
    from napcompose.cli import main
    from napcompose.cli.wiring import Wiring
    from tests.fakes_engine import FakeClock, FakeWorld
    from tests.fakes_kv import MemoryKV

    class Connections:
        def __init__(self, world):
            self.world = world
        def files(self, host):
            return self.world.files(host)
        def close(self):
            pass

    class FakeWiring(Wiring):
        def __init__(self, world):
            self.world, self.kv = world, MemoryKV()
        def store(self, cluster):
            return self.kv
        def connections(self, cluster, accept_new_host_keys=False):
            return Connections(self.world)
        def engine(self, host, connections):
            return self.world.engines[host.name]
        def clock(self):
            return FakeClock()

    directory = tempfile.mkdtemp()
    with open(os.path.join(directory, "nap-cluster.yml"), "w") as f:
        f.write('''network: {name: nap, bridge: br0, subnet: 198.18.0.0/24, router: 198.18.0.1,
                  pools: ["198.18.0.100-198.18.0.249"], resolver: false}
    hosts:
      - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}
      - {name: node2, address: 198.18.0.12, docker_url: "ssh://root@198.18.0.12"}
    ''')
    with open(os.path.join(directory, "docker-compose.yml"), "w") as f:
        f.write('services:\\n  web:\\n    image: nap-lab/busybox:latest\\n')
    world = FakeWorld(("node1", "node2"))
    world.engines["node2"].unreachable = "connection refused"
    before = set(sys.modules)
    out, err = io.StringIO(), io.StringIO()
    status = main(["-p", "shop", "ps", "--format", "json"], stdout=out, stderr=err, environ={}, cwd=directory,
                  wiring=FakeWiring(world))
    assert status == 8 and "node2: cannot connect" in err.getvalue(), (status, err.getvalue())
    print(" ".join(sorted(set(sys.modules) - before)))
    print(" ".join(sorted(sys.modules)))
    """)

NOT_FOR_PS = ("napcompose.planner", "napcompose.execute", "napcompose.orchestrator", "napcompose.reconcile",
              "napcompose.lock", "networkx")


def test_listing_a_project_loads_no_planner_executor_orchestrator_or_networkx():
    result = subprocess.run([sys.executable, "-c", LIST_A_PROJECT], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr
    by_ps, everything = (line.split() for line in result.stdout.splitlines())
    assert "napcompose.observe.view" in by_ps and "napcompose.cli.ps_view" in by_ps  # it did list
    assert [m for m in everything if any(m == p or m.startswith(p + ".") for p in NOT_FOR_PS)] == []
