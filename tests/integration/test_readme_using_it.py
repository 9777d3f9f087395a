"""README.md's "Using it" command block, run as written from a clean copy of the repository: its own lab
(`lab up --dir .lab`), the guestbook staged, built, planned, brought up, scaled, checked and brought down.

The one change: `logs -f` follows until interrupted, so it runs under `timeout 5` (its exit 124 is taken
as the end of following). The session holds the integration lock (the ``lab`` fixture) meanwhile.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]


def using_it_block() -> list:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Using it"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def clean_copy(target: pathlib.Path) -> None:
    """The repository's tracked files as they are in the working tree (so no rootfs, no .lab)."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def test_the_using_it_block_runs_as_written(lab):
    lines = using_it_block()
    assert lines[0].startswith("nap-compose lab up --dir .lab") and lines[-1].startswith("nap-compose down")
    work = pathlib.Path(tempfile.mkdtemp(prefix="nap-readme-", dir="/tmp"))
    repo, bin_dir = work / "repo", work / "bin"
    repo.mkdir()
    bin_dir.mkdir()
    clean_copy(repo)
    assert not (repo / "examples" / "guestbook" / "web" / "rootfs").exists()
    wrapper = bin_dir / "nap-compose"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={repo} exec {sys.executable} -m napcompose "$@"\n')
    wrapper.chmod(0o755)
    script = ["set -eu", f"cd {repo}"]
    for line in lines:
        command = line.split("  #", 1)[0].rstrip()
        if " logs -f " in command:
            command = f"timeout 5 {command} || [ $? -eq 124 ]"
        script += [f"echo '>>> {command}'", command]
    env = {"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, env=env,
                              timeout=900)
        out = done.stdout
        assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
        ps = out[out.index(">>> nap-compose ps"):out.index(">>> nap-compose scale")]
        assert {"guestbook_web_1", "guestbook_redis-master_1", "guestbook_redis-slave_1"} <= set(ps.split())
        hosts_file = out[out.index(">>> nap-compose exec --index 2"):out.index(">>> nap-compose down")]
        assert "# BEGIN nap-compose guestbook" in hosts_file and " redis-master" in hosts_file
    finally:
        subprocess.run([str(wrapper), "lab", "down", "--dir", str(repo / ".lab")], capture_output=True,
                       env=env, timeout=300)
        shutil.rmtree(work, ignore_errors=True)
