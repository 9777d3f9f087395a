"""A directory's small files in one command: the host-side program run for real on this machine."""

import os
import stat
import subprocess
import sys

import pytest

from napcompose.adapters import staged_put
from napcompose.errors import HostError
from tests.fakes_engine import FakeFiles, FakeFS


def local(argv, stdin):
    """The runner: the program itself, run here as it runs on a host (``python3`` is this interpreter)."""
    assert argv[:2] == ["python3", "-c"]
    done = subprocess.run([sys.executable, *argv[1:]], input=stdin, capture_output=True)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


class Files:
    host = "node1"


def _names_sent(payload: bytes):
    """The file names of the program's input, in order (each header line, its bytes skipped)."""
    names, at = [], 0
    while at < len(payload):
        end = payload.index(b"\n", at)
        fields = payload[at:end].split(b" ")
        names.append(fields[-1])
        at = end + 1 + (int(fields[2]) if fields[0] == b"W" else 0)
    return names


def test_files_are_written_in_order_in_place_with_their_mode_and_the_removals_come_last(tmp_path):
    where = tmp_path / "names" / "deep"
    os.makedirs(where)
    (where / "shop@api.hosts").write_bytes(b"old text that is longer than the new\n")
    inode = (where / "shop@api.hosts").stat().st_ino
    (where / "shop@api@old.sum").write_bytes(b"")
    seen = []

    def run(argv, stdin):
        seen.append(stdin)
        return local(argv, stdin)

    staged_put.put_stages(run, Files(), str(where),
                          [[("shop@api.hosts", lambda: b"10.0.0.5 api\n"), ("shop@web.hosts", lambda: [b"a", b"b"])],
                           [("shop@api@new.sum", lambda: b"")]], 0o644, ["shop@api@old.sum", "absent.sum"])
    assert len(seen) == 1  # one command for all of it
    assert (where / "shop@api.hosts").read_bytes() == b"10.0.0.5 api\n"
    assert (where / "shop@api.hosts").stat().st_ino == inode  # replaced in place, never renamed over
    assert (where / "shop@web.hosts").read_bytes() == b"ab"
    assert stat.S_IMODE((where / "shop@web.hosts").stat().st_mode) == 0o644
    assert sorted(os.listdir(where)) == ["shop@api.hosts", "shop@api@new.sum", "shop@web.hosts"]
    assert _names_sent(seen[0]) == [b"shop@api.hosts", b"shop@web.hosts", b"shop@api@new.sum", b"shop@api@old.sum", b"absent.sum"]


def test_a_missing_directory_is_made(tmp_path):
    where = tmp_path / "a" / "b"
    staged_put.put_stages(local, Files(), str(where), [[("x.hosts", lambda: b"1")]], 0o644)
    assert (where / "x.hosts").read_bytes() == b"1"


@pytest.mark.parametrize("name", ["../escape.hosts", "a/b", "..", "", "name with space", "x\ny"])
def test_a_name_that_is_not_a_plain_file_name_is_refused_before_anything_is_sent(tmp_path, name):
    sent = []
    with pytest.raises(HostError) as caught:
        staged_put.put_stages(lambda argv, stdin: sent.append(stdin) or (0, "", ""), Files(), str(tmp_path),
                              [[("good.hosts", lambda: b"1"), (name, lambda: b"2")]], 0o644)
    assert "node1" in str(caught.value) and "not a plain file name" in str(caught.value)
    assert sent == [] and os.listdir(tmp_path) == []


def test_the_program_itself_refuses_a_path_sent_to_it(tmp_path):
    where = tmp_path / "dir"
    status, _, err = local(["python3", "-c", staged_put.PROGRAM, str(where)], b"W 644 1 ../escape\nx")
    assert status == 1 and "not a plain file name" in err
    assert not (tmp_path / "escape").exists()


def test_a_file_that_cannot_be_written_stops_the_command_naming_its_path_after_the_ones_before(tmp_path):
    where = tmp_path / "dir"
    os.makedirs(where / "in-the-way.hosts")  # a directory where a file should be
    with pytest.raises(HostError) as caught:
        staged_put.put_stages(local, Files(), str(where), [[("first.hosts", lambda: b"1"),
                                                             ("in-the-way.hosts", lambda: b"2"),
                                                             ("after.hosts", lambda: b"3")]], 0o644)
    assert f"{where}/in-the-way.hosts" in str(caught.value) and "node1" in str(caught.value)
    assert (where / "first.hosts").read_bytes() == b"1" and not (where / "after.hosts").exists()


def test_a_symlink_in_the_directory_is_not_followed(tmp_path):
    where = tmp_path / "dir"
    os.makedirs(where)
    (tmp_path / "target").write_bytes(b"keep")
    os.symlink(tmp_path / "target", where / "link.hosts")
    with pytest.raises(HostError):
        staged_put.put_stages(local, Files(), str(where), [[("link.hosts", lambda: b"overwritten")]], 0o644)
    assert (tmp_path / "target").read_bytes() == b"keep"


def test_a_host_without_python3_gets_the_same_over_its_file_operations_a_stage_at_a_time():
    files = FakeFiles("node1", FakeFS())
    files.tree["/r"] = ("dir", 0o755, None)
    files.tree["/r/old.sum"] = ("file", 0o644, b"")
    staged_put.put_stages(lambda argv, stdin: (127, "", "sh: 1: python3: not found"), files, "/r/names",
                          [[("a.hosts", lambda: b"1")], [("a@d.sum", lambda: b"")]], 0o644, [])
    assert files.tree["/r/names/a.hosts"] == ("file", 0o644, b"1")
    assert [op for op, _ in files.calls] == ["makedirs", "put", "put"]
    assert [path for op, path in files.calls if op == "put"] == ["/r/names/a.hosts", "/r/names/a@d.sum"]


def test_another_failure_of_the_command_names_the_host_and_the_directory():
    with pytest.raises(HostError) as caught:
        staged_put.put_stages(lambda argv, stdin: (2, "", "\nsomething broke\n"), Files(), "/r/names",
                              [[("a.hosts", lambda: b"1")]], 0o644)
    assert str(caught.value).endswith("writing in /r/names: something broke") and "node1" in str(caught.value)
