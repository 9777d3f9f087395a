"""Many files of a host read or rewritten in one command: the host-side programs run for real on this machine."""

import os
import subprocess
import sys

import pytest

from napcompose.adapters import many_files
from napcompose.errors import HostError
from tests.fakes_engine import FakeFiles, FakeFS


def local(argv, stdin):
    """The runner: the program itself, run here as on a host, stdout kept as bytes."""
    assert argv[:2] == ["python3", "-c"]
    done = subprocess.run([sys.executable, *argv[1:]], input=stdin, capture_output=True)
    return done.returncode, done.stdout, done.stderr.decode()


class Files:
    host = "node1"


def test_every_file_is_read_in_one_command_each_answered_on_its_own(tmp_path):
    (tmp_path / "a").write_bytes(b"127.0.0.1\tlocalhost\n")
    (tmp_path / "b").write_bytes(b"\xff\xfe not utf-8\n")
    (tmp_path / "big").write_bytes(b"x" * 50)
    runs = []

    def run(argv, stdin):
        runs.append(argv)
        return local(argv, stdin)

    got = many_files.read_many(run, Files(), [str(tmp_path / "a"), str(tmp_path / "missing"), str(tmp_path / "b"),
                                              str(tmp_path / "big")], max_bytes=10)
    assert len(runs) == 1
    assert got[0] == b"127.0.0.1\tlocalhost\n"[:11] and len(got[0]) == 11  # at most max_bytes + 1, as read takes
    assert isinstance(got[1], HostError) and str(got[1]) == f"node1: reading {tmp_path}/missing: No such file or directory"
    assert got[2] == b"\xff\xfe not utf-"  # bytes as they are, never decoded on the way
    assert got[3] == b"x" * 11


def test_files_are_rewritten_in_place_and_a_missing_one_is_never_made(tmp_path):
    target = tmp_path / "hosts"
    target.write_bytes(b"a much longer text than the new one\n")
    inode = target.stat().st_ino
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    (tmp_path / "elsewhere").write_bytes(b"keep")
    got = many_files.write_many(local, Files(), [(str(target), b"new\n"), (str(tmp_path / "absent"), b"x"),
                                                 (str(tmp_path / "link"), b"no")])
    assert got[0] is None and target.read_bytes() == b"new\n" and target.stat().st_ino == inode
    assert str(got[1]) == f"node1: writing {tmp_path}/absent: No such file or directory"
    assert not (tmp_path / "absent").exists()
    assert isinstance(got[2], HostError) and (tmp_path / "elsewhere").read_bytes() == b"keep"


@pytest.mark.parametrize("path", ["relative/hosts", "/a\nb", "/a\0b"])
def test_a_path_that_is_not_one_absolute_line_is_refused_before_anything_is_sent(path):
    sent = []
    with pytest.raises(HostError) as caught:
        many_files.read_many(lambda argv, stdin: sent.append(1) or (0, b"", ""), Files(), ["/ok", path], 100)
    assert "node1" in str(caught.value) and "not an absolute path of one line" in str(caught.value)
    with pytest.raises(HostError):
        many_files.write_many(lambda argv, stdin: sent.append(1) or (0, b"", ""), Files(), [(path, b"x")])
    assert sent == []


def test_a_host_without_python3_gets_the_same_file_by_file():
    fs = FakeFS()
    files = FakeFiles("node1", fs)
    fs.create("/h/one", b"1")
    assert many_files.read_many(lambda argv, stdin: (127, b"", "python3: not found"), files, ["/h/one", "/h/two"],
                                100)[0] == b"1"
    assert files.reads == ["/h/one"]
    written = many_files.write_many(lambda argv, stdin: (127, b"", ""), files, [("/h/one", b"2"), ("/h/two", b"3")])
    assert written[0] is None and isinstance(written[1], HostError) and fs.inode("/h/one").content() == b"2"


def test_a_program_that_fails_or_answers_short_is_the_host_s_error():
    with pytest.raises(HostError) as caught:
        many_files.read_many(lambda argv, stdin: (1, b"", "Traceback\nMemoryError\n"), Files(), ["/a"], 100)
    assert str(caught.value) == "node1: python3 on the host failed: MemoryError"
    with pytest.raises(HostError) as caught:
        many_files.read_many(lambda argv, stdin: (0, b"OK 1\nx", ""), Files(), ["/a", "/b"], 100)
    assert "answered 1 of 2 files" in str(caught.value)
