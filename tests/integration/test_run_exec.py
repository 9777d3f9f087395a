"""run and exec on the lab: every byte carried both ways over the hosts' SSH connections, interactive
shells through a pseudo-terminal, exit codes, one-off containers and their addresses cleaned up.

The big streams and the terminal go through a real ``python3 -m napcompose`` process: its stdin,
stdout and peak memory are the operator's.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.integration.deploy_support import DeployProject, sleeper, until

pytestmark = pytest.mark.integration

SHORT_RUNS = 200
LARGE = 100 * 1000 * 1000
RESTORE = 50 * 1000 * 1000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def project(lab, tmp_path_factory):
    p = DeployProject(lab, tmp_path_factory.mktemp("runexec"), prefix="rx")
    p.write({"db": sleeper(), "web": sleeper(scale=3, depends_on=["db"], ports=["8080"])})
    p.ok("up", "-d")
    yield p
    p.cleanup()


def _env(project):
    return {**os.environ, "NAP_CLUSTER": project.lab.cluster_file, "PYTHONPATH": ROOT}


def _argv(project, *words):
    return [sys.executable, "-m", "napcompose", "-p", project.name, *words]


def _spawn(project, *words, **kwargs):
    return subprocess.Popen(_argv(project, *words), cwd=str(project.dir), env=_env(project), **kwargs)


def _peak_kib(process) -> int:
    """The process's peak resident memory (VmHWM), polled until it ends."""
    peak = 0
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    return peak


def test_two_hundred_short_execs_across_hosts_lose_nothing(project):
    hosts = {host for name, (host, _) in project.containers().items() if "_web_" in name}
    assert len(hosts) >= 2  # across hosts
    lost = []
    for run in range(SHORT_RUNS):
        code = run % 7 if run % 10 == 0 else 0  # now and then an exit code and a line on stderr
        status, out, err = project.nap("exec", "-T", "--index", str(run % 3 + 1), "web",
                                       "sh", "-c", f"echo hi {run}; [ {code} = 0 ] || echo oops >&2; exit {code}")
        if (status, out) != (code, f"hi {run}\n") or (code and not err.endswith("oops\n")):
            lost.append((run, status, out, err))
    assert len(lost) == 0, lost


def test_a_large_output_arrives_whole_through_the_command(project):
    code, text = project.run_in(f"{project.name}_web_2", "sh", "-c",
                                f"head -c {LARGE} /dev/urandom > /tmp/big && sha256sum /tmp/big")
    assert code == 0, text
    digest, size = hashlib.sha256(), 0
    process = _spawn(project, "exec", "-T", "--index", "2", "web", "cat", "/tmp/big",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for chunk in iter(lambda: process.stdout.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    assert process.wait() == 0, process.stderr.read()
    assert (size, digest.hexdigest()) == (LARGE, text.split()[0])
    project.run_in(f"{project.name}_web_2", "rm", "/tmp/big")


def test_a_restore_through_stdin_arrives_whole_and_is_not_held(project, tmp_path):
    dump = tmp_path / "dump"
    with open(dump, "wb") as f:
        for _ in range(RESTORE // (1 << 20)):
            f.write(os.urandom(1 << 20))
        f.write(os.urandom(RESTORE % (1 << 20)))
    expected = hashlib.sha256(dump.read_bytes()).hexdigest()
    with open(dump, "rb") as stdin:
        process = _spawn(project, "exec", "-T", "--index", "3", "web", "sh", "-c", "cat > /tmp/in && sha256sum /tmp/in",
                         stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        peak = _peak_kib(process)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert out.decode().split()[0] == expected
    quiet = _spawn(project, "exec", "-T", "--index", "3", "web", "rm", "/tmp/in", stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    baseline = _peak_kib(quiet)
    assert quiet.wait() == 0
    print(f"peak memory: {peak} KiB restoring {RESTORE} bytes, {baseline} KiB for a command without input")
    assert peak < baseline + 20 * 1024, (peak, baseline)  # far below the 50 MB a whole read would hold


def _read_until(fd, wanted: bytes, timeout: float = 20.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while wanted not in got:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {wanted!r} within {timeout} s; got {got!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            raise AssertionError(f"terminal closed before {wanted!r}; got {got!r}")
        if not chunk:
            raise AssertionError(f"terminal closed before {wanted!r}; got {got!r}")
        got += chunk
    return got


def _wait_exit(pid: int, fd: int, timeout: float = 20.0) -> int:
    """The exit code of the process on the terminal ``fd``, reading what it still prints."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        assert time.monotonic() < deadline, "the command did not end"
        try:
            select.select([fd], [], [], 0.2) and os.read(fd, 4096)
        except OSError:
            time.sleep(0.1)


def _on_terminal(project, *words):
    pid, fd = pty.fork()
    if pid == 0:  # the child: nap-compose on the pseudo-terminal
        os.chdir(str(project.dir))
        os.execve(sys.executable, _argv(project, *words), _env(project))
    return pid, fd


def test_an_interactive_shell_through_a_terminal(project):
    pid, fd = _on_terminal(project, "exec", "web", "sh")
    try:
        _read_until(fd, b"# ")  # the remote shell's prompt
        os.write(fd, b"echo $((6*7))\r")
        _read_until(fd, b"42\r\n")
        # a resize of the local terminal (SIGWINCH to nap-compose) resizes the remote one
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        time.sleep(0.5)
        os.write(fd, b"stty size\r")
        _read_until(fd, b"33 111")
        os.write(fd, b"exit 3\r")
        assert _wait_exit(pid, fd) == 3
    finally:
        os.close(fd)


def test_run_carries_a_terminal_and_stdin(project, tmp_path):
    data = tmp_path / "in"
    data.write_bytes(os.urandom(3_000_000))
    with open(data, "rb") as stdin:
        process = _spawn(project, "run", "--rm", "-T", "--no-deps", "web", "wc", "-c", stdin=stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate(timeout=60)
    assert (process.returncode, out.split()) == (0, [b"3000000"]), err
    pid, fd = _on_terminal(project, "run", "--rm", "--no-deps", "web", "sh")
    try:
        _read_until(fd, b"# ")
        os.write(fd, b"echo $((6*7)); tty\r")
        _read_until(fd, b"/dev/pts/")
        os.write(fd, b"exit 4\r")
        assert _wait_exit(pid, fd) == 4
    finally:
        os.close(fd)
    assert [n for n in project.containers() if "_run_" in n] == []


def _run_allocations(project):
    return [a for a in project.allocations() if "/run-" in a.owner]


def test_run_rm_returns_the_code_and_leaves_nothing(project):
    third = project.lab.cluster.hosts[2].name
    status, out, err = project.nap("run", "--rm", "-T", "--host", third, "-e", "WHO=run", "web",
                                   "sh", "-c", "echo $WHO; grep -qw db /etc/hosts && echo named; exit 5")
    assert (status, out) == (5, "run\nnamed\n"), err
    assert [n for n in project.containers() if "_run_" in n] == []
    assert _run_allocations(project) == []


def test_run_d_prints_the_name_and_ps_a_shows_it(project):
    status, out, err = project.nap("run", "-d", "web", "sleep", "60")
    name = out.strip()
    assert status == 0 and name.startswith(f"{project.name}_web_run_"), err
    host, container = project.containers()[name]
    labels = container.labels
    assert labels["com.docker.compose.oneoff"] == "True"
    assert container.attrs["HostConfig"]["PortBindings"] in (None, {})  # ports: only with --service-ports
    assert name in project.ok("ps", "-a") and name not in project.ok("ps")
    assert len(_run_allocations(project)) == 1
    project.ok("down", "--remove-orphans")
    assert project.containers() == {} and _run_allocations(project) == []
    project.ok("up", "-d")


def test_a_killed_run_rm_is_cleaned_by_the_next_up(project):
    process = _spawn(project, "run", "--rm", "-T", "web", "sh", "-c", "sleep 3", stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running = until(lambda: [c for n, (h, c) in project.containers().items()
                             if "_run_" in n and c.status == "running"], bool, timeout=30)
    process.send_signal(signal.SIGKILL)
    process.wait()
    until(lambda: (running[0].reload(), running[0].status)[1], lambda s: s == "exited", timeout=30)
    assert len(_run_allocations(project)) == 1
    project.ok("up", "-d")
    assert [n for n in project.containers() if "_run_" in n] == []
    assert _run_allocations(project) == []
