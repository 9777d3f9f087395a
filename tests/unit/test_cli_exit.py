"""The program's exit (napcompose.cli.run): what the interpreter does at exit still happens, in its
order, and the command's exit status is the process's; the interpreter's teardown does not."""

import os
import subprocess
import sys
import textwrap

from napcompose import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _program(body: str, *argv: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    """Run ``body`` (which ends by calling run()) as a fresh interpreter with ``argv``."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(body), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_thread_still_running_is_waited_for_and_atexit_functions_run_after_it():
    done = _program("""
        import atexit, sys, threading, time
        import napcompose.cli as cli

        def late():
            time.sleep(0.3)
            sys.stdout.write("thread done\\n")  # buffered: flushed only by the exit

        class TornDown:
            def __del__(self):
                sys.stderr.write("torn down\\n")  # only the interpreter's teardown would get here

        real_main = cli.main

        def main_then_a_thread(argv=None):
            status = real_main(argv)
            threading.Thread(target=late).start()  # still running when the command is done
            return status

        kept = TornDown()
        atexit.register(lambda: sys.stdout.write("atexit ran\\n"))
        cli.main = main_then_a_thread
        sys.argv[0] = "nap-compose"
        cli.run()
        sys.stdout.write("never\\n")
    """, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"nap-compose {__version__}", "thread done", "atexit ran"]
    assert "torn down" not in done.stderr


def test_the_command_exit_status_is_the_process_exit_status(tmp_path):
    done = _program("""
        import sys
        from napcompose.cli import run

        sys.argv[0] = "nap-compose"
        run()
    """, "-f", str(tmp_path / "missing.yml"), "config", cwd=str(tmp_path))
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert "ERROR: compose file" in done.stderr and "missing.yml not found" in done.stderr


def test_python_m_napcompose_exits_through_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "napcompose", "-f", str(tmp_path / "missing.yml"), "config"],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "missing.yml not found" in done.stderr


def test_an_exception_main_lets_through_exits_the_usual_way():
    done = _program("""
        import atexit, sys
        import napcompose.cli as cli

        def broken(argv=None):
            raise RuntimeError("a bug")

        atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
        cli.main = broken
        cli.run()
    """)
    assert done.returncode == 1
    assert "RuntimeError: a bug" in done.stderr and done.stderr.rstrip().endswith("atexit ran")
