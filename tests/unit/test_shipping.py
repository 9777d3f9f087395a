"""Shipped bind sources: which ones, their digests, refusals, the rewrite, and copying to a host."""

import os

import pytest

from napcompose.errors import ConfigError, HostError
from napcompose.model import Project, ServiceSpec
from napcompose.shipping.manifest import describe, digest_of, files_dir, rewrite, shipped_of, split_volume
from napcompose.shipping.refs import shipped_by_service
from napcompose.shipping.copy import remove_project_files, ship_to_host
from tests.fakes_engine import FakeFiles, FakeFS


@pytest.fixture
def proj(tmp_path):
    root = tmp_path / "proj"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.ini").write_text("[app]\nx = 1\n")
    (root / "conf" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "conf" / "run.sh", 0o750)
    (root / "conf" / "sub").mkdir()
    (root / "conf" / "sub" / "deep.txt").write_text("deep\n")
    os.symlink("app.ini", root / "conf" / "current.ini")
    (root / "greeting.txt").write_text("hello\n")
    os.chmod(root / "greeting.txt", 0o640)
    return root


def _project(root, **services):
    specs = tuple(ServiceSpec(name=name, image="img", volumes=tuple(vols)) for name, vols in sorted(services.items()))
    return Project(name="demo", services=specs, working_dir=str(root))


def test_in_project_sources_are_shipped_and_host_paths_pass_through(proj):
    project = _project(proj, web=[f"{proj}/greeting.txt:/g.txt:ro", f"{proj}/conf:/etc/app",
                                  "/var/run/docker.sock:/var/run/docker.sock", "/data", "named:/srv"])
    shipped = shipped_of(project, project.service("web"))
    assert [(s.source, s.target, s.read_only, s.kind) for s in shipped] == [
        (f"{proj}/greeting.txt", "/g.txt", True, "file"), (f"{proj}/conf", "/etc/app", False, "dir")]
    greeting, conf = shipped
    assert [(e.path, e.kind, oct(e.mode), e.size) for e in greeting.entries] == [("", "file", "0o640", 6)]
    assert [(e.path, e.kind) for e in conf.entries] == [
        ("", "dir"), ("app.ini", "file"), ("current.ini", "link"), ("run.sh", "file"), ("sub", "dir"),
        ("sub/deep.txt", "file")]
    assert next(e for e in conf.entries if e.path == "run.sh").mode == 0o750
    assert next(e for e in conf.entries if e.path == "current.ini").link == "app.ini"
    assert greeting.host_path == f"/var/lib/nap-compose/demo/files/{greeting.digest}/greeting.txt"
    assert files_dir("demo") == "/var/lib/nap-compose/demo/files"
    spec = rewrite(project.service("web"), shipped)
    assert spec.volumes == (f"{greeting.host_path}:/g.txt:ro", f"{conf.host_path}:/etc/app",
                            "/var/run/docker.sock:/var/run/docker.sock", "/data", "named:/srv")
    assert describe(project, project.service("web"), shipped) == [
        f"web: ./greeting.txt -> /g.txt: shipped (file, 1 file(s), 6 bytes, sha256:{greeting.digest[:12]}) "
        f"to {greeting.host_path}",
        f"web: ./conf -> /etc/app: shipped (dir, 3 file(s), {conf.size} bytes, sha256:{conf.digest[:12]}) "
        f"to {conf.host_path}",
        "web: /var/run/docker.sock -> /var/run/docker.sock: host path, used as it is on each host"]
    assert shipped_by_service(_project(proj, db=["/srv/x:/x"])) == {}


def test_digest_follows_content_and_mode_only(proj):
    project = _project(proj, a=[f"{proj}/conf:/c"], b=[f"{proj}/greeting.txt:/g"])
    before = shipped_by_service(project)
    assert shipped_by_service(project) == before  # same files, same digests
    (proj / "conf" / "sub" / "deep.txt").write_text("deeper\n")
    after = shipped_by_service(project)
    assert after["a"][0].digest != before["a"][0].digest
    assert after["b"][0].digest == before["b"][0].digest  # only the consumer of the edited tree changes
    assert digest_of(after["b"]) == digest_of(before["b"]) and digest_of(()) == ""
    os.chmod(proj / "greeting.txt", 0o644)
    assert shipped_by_service(project)["b"][0].digest != before["b"][0].digest


def test_a_symlink_out_of_the_project_is_refused_and_never_followed(proj, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    os.symlink(str(outside), proj / "conf" / "escape")
    project = _project(proj, web=[f"{proj}/conf:/c"])
    with pytest.raises(ConfigError) as err:
        shipped_of(project, project.service("web"))
    assert str(err.value) == (f"service 'web': bind source {proj}/conf holds a symlink escape -> {outside} that "
                              f"points outside the project directory {proj}; nap-compose never follows it")
    os.unlink(proj / "conf" / "escape")
    os.symlink("../greeting.txt", proj / "conf" / "up")
    with pytest.raises(ConfigError) as err:
        shipped_of(project, project.service("web"))
    assert "holds a symlink up -> ../greeting.txt that leads out of the shipped directory" in str(err.value)
    os.symlink(str(outside), proj / "linked.txt")
    linked = _project(proj, web=[f"{proj}/linked.txt:/l"])
    with pytest.raises(ConfigError) as err:
        shipped_of(linked, linked.service("web"))
    assert str(err.value) == (f"service 'web': bind source {proj}/linked.txt is a symlink to {outside}, "
                              f"outside the project directory {proj}; nap-compose never follows it")


def test_a_path_through_a_symlinked_directory_out_of_the_project_is_refused(proj, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "shadow").write_text("root:$6$secret:19000:0:99999:7:::\n")
    os.symlink(str(etc), proj / "etc-link")
    for volume in (f"{proj}/etc-link/shadow:/leak:ro", f"{proj}/etc-link:/leak"):
        project = _project(proj, a=[volume])
        with pytest.raises(ConfigError) as err:
            shipped_of(project, project.service("a"))
        source = volume.split(":")[0]
        expected = "is a symlink to" if source.endswith("etc-link") else "leads through the symlink etc-link"
        assert f"service 'a': bind source {source} {expected}" in str(err.value)
        assert str(etc) in str(err.value) and "root:" not in str(err.value)
    # a symlinked directory that stays inside the project is followed as before
    os.symlink("conf", proj / "conf-link")
    inside = _project(proj, a=[f"{proj}/conf-link/app.ini:/app.ini:ro"])
    (shipped,) = shipped_of(inside, inside.service("a"))
    assert shipped.kind == "file" and shipped.entries[0].size == len("[app]\nx = 1\n")


def test_a_missing_source_is_refused_naming_service_and_path_and_nothing_is_created(proj):
    project = _project(proj, web=[f"{proj}/nginx.conf:/etc/nginx/nginx.conf:ro"])
    before = sorted(os.listdir(proj))
    with pytest.raises(ConfigError) as err:
        shipped_by_service(project)
    assert str(err.value) == (f"service 'web': bind source {proj}/nginx.conf does not exist on this machine "
                              "(nap-compose ships it from the project directory and never creates it)")
    assert sorted(os.listdir(proj)) == before


def test_split_volume():
    assert split_volume("/a:/b:ro,z") == ("/a", "/b", "ro,z")
    assert split_volume("/data") == (None, "/data", "")


def _files():
    return FakeFiles("node1", FakeFS())


def test_copy_to_a_host_keeps_tree_modes_and_links_and_sends_once(proj):
    project = _project(proj, web=[f"{proj}/conf:/c", f"{proj}/greeting.txt:/g:ro"], api=[f"{proj}/conf:/c"])
    shipped = shipped_by_service(project)
    files = _files()
    sources = shipped["web"] + shipped["api"]
    first = ship_to_host("node1", files, "demo", sources)
    conf, greeting = shipped["web"]
    (api_conf,) = shipped["api"]  # read-write: each service writes a copy of its own
    assert sorted(first.sent) == sorted([conf.digest, greeting.digest, api_conf.digest]) and first.present == ()
    assert first.bytes_sent == 2 * conf.size + greeting.size
    assert files.tree[greeting.host_path] == ("file", 0o640, b"hello\n")
    assert files.tree[conf.host_path + "/run.sh"] == ("file", 0o750, b"#!/bin/sh\necho hi\n")
    assert files.tree[conf.host_path + "/sub/deep.txt"][2] == b"deep\n"
    assert files.tree[conf.host_path + "/current.ini"] == ("link", 0o777, "app.ini")
    assert files.tree["/var/lib/nap-compose/demo/files"][:2] == ("dir", 0o700)
    assert not [p for p in files.tree if ".partial-" in p]
    # A second run: one listing, nothing sent.
    files.calls.clear()
    again = ship_to_host("node1", files, "demo", sources)
    assert (again.sent, again.bytes_sent) == ((), 0)
    assert files.calls == [("listdir", "/var/lib/nap-compose/demo/files")]
    # down: the project's directory goes, another project's stays.
    files.makedirs("/var/lib/nap-compose/other/files/x", 0o700)
    remove_project_files(files, "demo")
    assert sorted(files.tree) == ["/var", "/var/lib", "/var/lib/nap-compose", "/var/lib/nap-compose/other",
                                  "/var/lib/nap-compose/other/files", "/var/lib/nap-compose/other/files/x"]


def test_a_read_write_copy_is_its_service_s_own_and_read_only_copies_are_shared(proj):
    project = _project(proj, a=[f"{proj}/conf:/www:ro"], b=[f"{proj}/conf:/data"], c=[f"{proj}/conf:/srv:ro"],
                       d=[f"{proj}/conf:/data"])
    shipped = shipped_by_service(project)
    paths = {name: copies[0].host_path for name, copies in shipped.items()}
    assert paths["a"] == paths["c"]  # read only: one copy, nobody can change it
    assert len({paths["a"], paths["b"], paths["d"]}) == 3  # b's writes never reach a's or d's files
    # the same service and content keep the same copy from run to run
    assert shipped_by_service(project)["b"][0].host_path == paths["b"]


def test_an_interrupted_copy_leaves_no_digest_and_the_next_run_completes(proj):
    project = _project(proj, web=[f"{proj}/conf:/c"])
    (conf,) = shipped_by_service(project)["web"]
    files = _files()
    files.fail_paths[conf.host_path.replace(f"/{conf.digest}/", f"/.partial-{conf.digest}/") + "/sub/deep.txt"] = \
        "connection lost"
    with pytest.raises(HostError):
        ship_to_host("node1", files, "demo", [conf])
    assert files.listdir("/var/lib/nap-compose/demo/files") == [f".partial-{conf.digest}"]
    files.fail_paths.clear()
    done = ship_to_host("node1", files, "demo", [conf])
    assert done.sent == (conf.digest,)
    assert files.listdir("/var/lib/nap-compose/demo/files") == [conf.digest]


def test_a_file_changed_after_the_scan_is_not_shipped(proj):
    project = _project(proj, web=[f"{proj}/greeting.txt:/g"])
    (greeting,) = shipped_by_service(project)["web"]
    (proj / "greeting.txt").write_text("changed\n")
    files = _files()
    with pytest.raises(ConfigError) as err:
        ship_to_host("node1", files, "demo", [greeting])
    assert str(err.value) == f"service 'web': {proj}/greeting.txt changed while it was being shipped; run again"
    assert greeting.digest not in files.listdir("/var/lib/nap-compose/demo/files")


def test_two_files_with_one_content_and_different_names_each_get_their_copy(proj):
    (proj / "a.txt").write_text("same\n")
    (proj / "b.txt").write_text("same\n")
    project = _project(proj, web=[f"{proj}/a.txt:/a", f"{proj}/b.txt:/b"])
    a, b = shipped_of(project, project.service("web"))
    assert a.digest != b.digest  # the copy's name joins the digest: one copy could not hold both names
    files = FakeFiles("node1", FakeFS())
    ship_to_host("node1", files, "demo", [a, b])
    assert files.tree[a.host_path][2] == files.tree[b.host_path][2] == b"same\n"


def test_a_large_file_travels_in_chunks_and_a_change_midway_leaves_no_copy(proj):
    big = proj / "big.bin"
    big.write_bytes(b"a" * (3 * 1024 * 1024 + 5))
    project = _project(proj, web=[f"{proj}/big.bin:/big.bin:ro"])
    (shipped,) = shipped_by_service(project)["web"]

    class Recording(FakeFiles):
        def put_many(self, items):
            for path, load, mode in items:
                data = load()
                assert not isinstance(data, (bytes, bytearray))  # read as it is sent, never whole
                sizes = []

                def counted(data=data, sizes=sizes):
                    for chunk in data:
                        sizes.append(len(chunk))
                        yield chunk

                self.put(path, counted(), mode)
                self.chunk_sizes = sizes

    files = Recording("node1", FakeFS())
    ship_to_host("node1", files, "demo", [shipped])
    assert files.chunk_sizes == [1024 * 1024] * 3 + [5]
    assert files.tree[shipped.host_path][2] == big.read_bytes()
    big.write_bytes(b"b" * (3 * 1024 * 1024 + 5))  # edited after the plan read it
    files = Recording("node2", FakeFS())
    with pytest.raises(ConfigError) as err:
        ship_to_host("node2", files, "demo", [shipped])
    assert f"{big} changed while it was being shipped; run again" in str(err.value)
    assert shipped.digest not in files.listdir("/var/lib/nap-compose/demo/files")
