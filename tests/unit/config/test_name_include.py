"""Top-level ``name:`` and ``include:``."""

import pytest

from napcompose.config import load_project
from napcompose.errors import ConfigError, UsageError

from tests.unit.config.test_discovery import write

WEB = "services:\n  web:\n    image: nginx\n"


def load(root, **kwargs):
    kwargs.setdefault("environ", {})
    kwargs.setdefault("warn", lambda line: None)
    return load_project(cwd=str(root), **kwargs)


def test_name_names_the_project(tmp_path):
    write(tmp_path, {"compose.yaml": "name: Shop-Front\n" + WEB})
    assert load(tmp_path).name == "shop-front"


def test_name_is_interpolated(tmp_path):
    write(tmp_path, {"compose.yaml": "name: shop-${STAGE}\n" + WEB})
    assert load(tmp_path, environ={"STAGE": "test"}).name == "shop-test"


def test_p_and_compose_project_name_win_over_name(tmp_path):
    write(tmp_path, {"compose.yaml": "name: shop\n" + WEB})
    assert load(tmp_path, project_name="other").name == "other"
    assert load(tmp_path, environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"


def test_a_later_file_overrides_name(tmp_path):
    write(tmp_path, {"a.yml": "name: one\n" + WEB, "b.yml": "name: two\nservices: {}\n"})
    assert load(tmp_path, files=["a.yml", "b.yml"]).name == "two"


def test_name_without_letters_is_refused_with_its_line(tmp_path):
    write(tmp_path, {"compose.yaml": WEB + "name: '!!!'\n"})
    with pytest.raises(ConfigError, match=r"compose.yaml:4: top level: name: '!!!' has no letters or digits"):
        load(tmp_path)


def test_name_must_be_a_string(tmp_path):
    write(tmp_path, {"compose.yaml": "name: [a]\n" + WEB})
    with pytest.raises(ConfigError, match=r"compose.yaml:1: top level: name: must be a string, not a list"):
        load(tmp_path)


def test_directory_without_letters_needs_a_name(tmp_path):
    root = tmp_path / "+++"
    write(root, {"compose.yaml": WEB})
    with pytest.raises(UsageError, match="pass -p NAME or set name:"):
        load(root)
    write(root, {"compose.yaml": "name: ok\n" + WEB})
    assert load(root).name == "ok"


def test_config_prints_name_first(tmp_path):
    import io
    from napcompose.cli import main

    write(tmp_path, {"compose.yaml": "name: shop\n" + WEB})
    out = io.StringIO()
    assert main(["config"], stdout=out, stderr=io.StringIO(), environ={}, cwd=str(tmp_path)) == 0
    assert out.getvalue().startswith("name: shop\nservices:\n")


def test_include_adds_services_with_paths_of_their_own(tmp_path):
    write(tmp_path, {"compose.yaml": "include:\n  - db/compose.yaml\n" + WEB
                     + "    depends_on: [db]\n",
                     "db/compose.yaml": "services:\n  db:\n    build: ./image\n    env_file: db.env\n"
                                        "    label_file: db.labels\n    image: 'db:${DB_TAG}'\n",
                     "db/.env": "DB_TAG=7\n", "db/db.env": "A=1\n", "db/image/Dockerfile": "FROM scratch\n",
                     "db/db.labels": "tier=data\n"})
    project = load(tmp_path)
    db = project.service("db")
    assert project.service_names == ("db", "web")
    assert db.build.context == str(tmp_path / "db" / "image")
    assert db.image == "db:7"
    assert dict(db.environment) == {"A": "1"}
    assert dict(db.labels) == {"tier": "data"}


def test_include_long_form_with_env_file_and_project_directory(tmp_path):
    write(tmp_path, {"compose.yaml": "include:\n  - path: [lib/a.yml]\n    env_file: lib/vars.env\n"
                                     "    project_directory: lib/root\n" + WEB,
                     "lib/a.yml": "services:\n  a:\n    image: 'a:${V}'\n    volumes: ['./data:/data']\n",
                     "lib/vars.env": "V=2\n"})
    a = load(tmp_path).service("a")
    assert a.image == "a:2"
    assert a.volumes == (f"{tmp_path}/lib/root/data:/data",)


def test_a_service_defined_in_both_files_is_refused_naming_both(tmp_path):
    write(tmp_path, {"compose.yaml": "include: [other.yml]\n" + WEB, "other.yml": WEB})
    with pytest.raises(ConfigError) as err:
        load(tmp_path)
    assert str(err.value) == ("compose.yaml:3: service 'web' is defined both in other.yml and in compose.yaml; "
                              "an included file's services cannot be redefined (rename one, or use extends)")


def test_a_network_defined_differently_is_refused(tmp_path):
    write(tmp_path, {"compose.yaml": "include: [other.yml]\nnetworks:\n  lan: {internal: true}\n" + WEB,
                     "other.yml": "services:\n  db: {image: redis}\nnetworks:\n  lan: {}\n"})
    with pytest.raises(ConfigError, match="networks: 'lan' is defined differently in other.yml and in compose.yaml"):
        load(tmp_path)


def test_missing_included_file(tmp_path):
    write(tmp_path, {"compose.yaml": "include:\n  - nothere.yml\n" + WEB})
    with pytest.raises(ConfigError, match=r"compose.yaml:2: include: nothere.yml not found"):
        load(tmp_path)


def test_circular_include(tmp_path):
    write(tmp_path, {"compose.yaml": "include: [b.yml]\n" + WEB, "b.yml": "include: [compose.yaml]\n"
                                                                           "services:\n  b: {image: x}\n"})
    with pytest.raises(ConfigError, match=r"circular include: compose.yaml -> b.yml -> compose.yaml"):
        load(tmp_path)


def test_include_entry_shape_is_checked(tmp_path):
    write(tmp_path, {"compose.yaml": "include:\n  - file: x.yml\n" + WEB})
    with pytest.raises(ConfigError, match=r"compose.yaml:2: top level: include\[0\]: 'path' is required"):
        load(tmp_path)


def test_missing_include_env_file(tmp_path):
    write(tmp_path, {"compose.yaml": "include:\n  - {path: a.yml, env_file: nothere.env}\n" + WEB,
                     "a.yml": "services:\n  a: {image: x}\n"})
    with pytest.raises(ConfigError, match=r"^compose.yaml:2: include: env_file nothere.env not found \(looked for "):
        load(tmp_path)


def test_config_json_has_name_first(tmp_path):
    import io
    import json
    from napcompose.cli import main

    write(tmp_path, {"compose.yaml": "name: shop\n" + WEB})
    out = io.StringIO()
    assert main(["config", "--format", "json"], stdout=out, stderr=io.StringIO(), environ={},
                cwd=str(tmp_path)) == 0
    doc = json.loads(out.getvalue())
    assert list(doc)[:2] == ["name", "services"] and doc["name"] == "shop"
