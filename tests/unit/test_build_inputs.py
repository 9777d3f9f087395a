"""A build context that lacks a file its Dockerfile copies: the error names the file, the line and the step."""

import io
import pathlib

from napcompose.adapters.images import missing_input
from napcompose.cli import main

GUESTBOOK = pathlib.Path(__file__).resolve().parents[2] / "examples" / "guestbook"


def context(tmp_path, dockerfile, files=(), generated=None):
    (tmp_path / "Dockerfile").write_text(dockerfile)
    for name in files:
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    if generated is not None:
        (tmp_path / ".nap-generated").write_text(generated)
    return str(tmp_path)


def test_every_local_source_is_checked_and_others_are_left_to_docker(tmp_path):
    text = ("FROM scratch\n# COPY nothing.txt /\nCOPY --chown=1:1 \\\n   a.txt b/ /x/\nADD https://example.invalid/y /z\n"
            "COPY --from=build /a /b\nCOPY *.conf $HOME/\nCOPY [\"c d\", \"/e\"]\n")
    ctx = context(tmp_path, text)
    assert missing_input(ctx).startswith("a.txt (Dockerfile line 3: COPY --chown=1:1 a.txt b/ /x/); if a step ")
    (tmp_path / "a.txt").write_text("")
    assert missing_input(ctx).startswith("b/ (Dockerfile line 3: ")
    (tmp_path / "b").mkdir()
    assert missing_input(ctx).startswith('c d (Dockerfile line 8: COPY ["c d", "/e"]); if a step generates it, '
                                         "a line `c d <the step>` in .nap-generated")
    (tmp_path / "c d").write_text("")
    assert missing_input(ctx) is None


def test_the_context_names_the_step_that_makes_a_generated_path(tmp_path):
    ctx = context(tmp_path, "FROM scratch\nCOPY rootfs/usr/ /usr/\n", ["www/"],
                  "# comment\nwww/ nothing\nrootfs/ ./stage --all\n")
    assert missing_input(ctx) == (f"rootfs/usr/ (Dockerfile line 2: COPY rootfs/usr/ /usr/): it is generated: run "
                                  f"`./stage --all` in {ctx} first (its .nap-generated says so)")


def test_the_guestbook_contexts_name_make_rootfs(tmp_path):
    for name in ("web", "redis-master", "redis-slave"):
        listing = (GUESTBOOK / name / ".nap-generated").read_text()
        assert "\nrootfs/ ../make-rootfs\n" in listing
        assert (GUESTBOOK / ".." / ".." / ".gitignore").read_text().count("examples/guestbook/*/rootfs/") == 1


def test_build_stops_before_anything_with_the_file_and_step_named(tmp_path):
    (tmp_path / "app").mkdir()
    ctx = context(tmp_path / "app", "FROM scratch\nCOPY rootfs/ /\n", generated="rootfs/ ../make-rootfs\n")
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    build: ./app\n")
    out, err = io.StringIO(), io.StringIO()
    # the cluster file does not exist: the error comes before it, or any host, is touched
    status = main(["--cluster", str(tmp_path / "absent.yml"), "build"], stdout=out, stderr=err, environ={},
                  cwd=str(tmp_path))
    assert status == 3
    assert err.getvalue() == (f"ERROR: service app: build context {ctx} lacks rootfs/ (Dockerfile line 2: COPY "
                              f"rootfs/ /): it is generated: run `../make-rootfs` in {ctx} first (its "
                              ".nap-generated says so)\n")
    assert out.getvalue() == ""
