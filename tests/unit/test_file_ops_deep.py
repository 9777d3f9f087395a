"""Removing a tree deeper than Python's recursion limit (a container can make one in a read-write bind)."""

import os
import sys

from napcompose.adapters.file_ops import LocalTree


def test_a_tree_deeper_than_the_recursion_limit_is_removed_whole(tmp_path, monkeypatch):
    depth = sys.getrecursionlimit() + 200
    top = tmp_path / "files"
    path = str(top)
    os.makedirs(path)
    monkeypatch.chdir(path)  # build it relative: the whole path would pass PATH_MAX
    for _ in range(depth):
        os.mkdir("d")
        os.chdir("d")
        with open("f", "w") as fh:
            fh.write("x")
    os.symlink("/etc", "link-out")  # a link is removed, never followed
    os.chdir(str(tmp_path))
    LocalTree("node1").remove_tree(str(top))
    assert not os.path.lexists(str(top))
    assert os.path.isdir("/etc")
