"""Default compose file names and their precedence, as ``docker compose`` v2 finds them."""

import pytest

from napcompose.config import load_project
from napcompose.errors import ConfigError

WEB = "services:\n  web:\n    image: nginx\n"


def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(root, warnings=None, **kwargs):
    kwargs.setdefault("environ", {})
    return load_project(cwd=str(root), warn=(warnings if warnings is not None else []).append, **kwargs)


@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"])
def test_each_default_name_is_found(tmp_path, name):
    write(tmp_path, {name: WEB})
    assert load(tmp_path).source_files == (name,)


def test_compose_yaml_comes_first_and_the_others_are_named(tmp_path):
    write(tmp_path, {"compose.yaml": WEB, "docker-compose.yml": "services:\n  db:\n    image: redis\n"})
    warnings = []
    project = load(tmp_path, warnings)
    assert project.service_names == ("web",)
    assert any("compose.yaml, docker-compose.yml" in w and "using compose.yaml" in w for w in warnings)


def test_compose_yml_before_docker_compose_yaml(tmp_path):
    write(tmp_path, {"compose.yml": WEB, "docker-compose.yaml": WEB})
    assert load(tmp_path).source_files == ("compose.yml",)


def test_override_is_merged_on_top(tmp_path):
    write(tmp_path, {"compose.yaml": WEB, "compose.override.yaml": "services:\n  web:\n    hostname: h\n"})
    project = load(tmp_path)
    assert project.source_files == ("compose.yaml", "compose.override.yaml")
    assert project.service("web").hostname == "h"


def test_first_override_wins_with_a_warning(tmp_path):
    write(tmp_path, {"compose.yaml": WEB, "compose.override.yml": "services:\n  web:\n    hostname: a\n",
                     "docker-compose.override.yml": "services:\n  web:\n    hostname: b\n"})
    warnings = []
    project = load(tmp_path, warnings)
    assert project.service("web").hostname == "a"
    assert any("compose.override.yml, docker-compose.override.yml" in w for w in warnings)


def test_found_in_a_parent_directory(tmp_path):
    write(tmp_path, {"compose.yml": WEB})
    sub = tmp_path / "src" / "app"
    sub.mkdir(parents=True)
    assert load(sub).working_dir == str(tmp_path)


def test_an_override_alone_is_not_a_project(tmp_path):
    write(tmp_path, {"compose.override.yaml": WEB})
    with pytest.raises(ConfigError) as err:
        load(tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message
    for name in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"):
        assert name in message


def test_explicit_file_skips_discovery(tmp_path):
    write(tmp_path, {"compose.yaml": WEB, "other.yml": "services:\n  db:\n    image: redis\n"})
    assert load(tmp_path, files=["other.yml"]).service_names == ("db",)
