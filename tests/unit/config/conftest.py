import io
import os

import pytest

from napcompose.cli import main
from napcompose.config import parse_project


def _tree(root):
    found = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            found.append(os.path.relpath(os.path.join(base, name), root))
    return sorted(found)


class Cli:
    """Runs nap-compose in process inside a temporary project directory."""

    def __init__(self, root):
        self.root = root

    def write(self, files):
        for name, text in files.items():
            path = os.path.join(self.root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)

    def run(self, *argv, environ=None):
        before = _tree(self.root)
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ=environ or {}, cwd=str(self.root))
        # Reading a compose file must never create or remove anything.
        assert _tree(self.root) == before
        return status, out.getvalue(), err.getvalue()


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def parse(text, environ=None, warn=None, name="proj", extra=()):
    """Parse one in-memory compose file (plus optional later files)."""
    texts = [("docker-compose.yml", text)] + list(extra)
    return parse_project(texts, project_name=name, working_dir="/srv/proj", environ=environ or {}, warn=warn)
