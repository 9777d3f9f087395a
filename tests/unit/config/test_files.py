"""Files on disk: default names, COMPOSE_FILE, project name and directory, .env and --env-file."""

import os

import pytest

from napcompose.config import load_project
from napcompose.errors import ConfigError

WEB = "version: '3'\nservices:\n  web:\n    image: 'nginx:${TAG:-latest}'\n"


def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(root, **kwargs):
    kwargs.setdefault("environ", {})
    return load_project(cwd=str(root), **kwargs)


def test_default_file_and_override_and_nap_file(tmp_path):
    write(tmp_path, {"docker-compose.yml": WEB,
                     "docker-compose.override.yml": "version: '3'\nservices:\n  web: {hostname: h}\n",
                     "nap-compose.yml": "version: '3'\nx-nap: {strategy: binpack}\nservices:\n  web: {}\n"})
    project = load(tmp_path)
    assert project.source_files == ("docker-compose.yml", "docker-compose.override.yml", "nap-compose.yml")
    assert (project.service("web").hostname, project.strategy) == ("h", "binpack")


def test_nap_compose_file_alone(tmp_path):
    write(tmp_path, {"nap-compose.yml": WEB})
    assert load(tmp_path).service_names == ("web",)


def test_yaml_extension_and_search_upward(tmp_path):
    write(tmp_path, {"docker-compose.yaml": WEB})
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    project = load(sub)
    assert project.working_dir == str(tmp_path)


def test_compose_file_variable(tmp_path):
    write(tmp_path, {"one.yml": WEB, "two.yml": "version: '3'\nservices:\n  db: {image: redis}\n"})
    project = load(tmp_path, environ={"COMPOSE_FILE": "one.yml:two.yml"})
    assert project.service_names == ("db", "web")


def test_project_name_sources(tmp_path):
    root = tmp_path / "My App.v2"
    write(root, {"docker-compose.yml": WEB})
    assert load(root).name == "myappv2"
    assert load(root, project_name="Other").name == "other"
    assert load(root, environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    write(root, {".env": "COMPOSE_PROJECT_NAME=fromdotenv\n"})
    assert load(root).name == "fromdotenv"


def test_process_environment_wins_over_dotenv(tmp_path):
    write(tmp_path, {"docker-compose.yml": WEB, ".env": "TAG=fromfile\n"})
    assert load(tmp_path).service("web").image == "nginx:fromfile"
    assert load(tmp_path, environ={"TAG": "fromshell"}).service("web").image == "nginx:fromshell"


def test_env_file_option(tmp_path):
    write(tmp_path, {"docker-compose.yml": WEB, "prod.env": "TAG=prod\n"})
    assert load(tmp_path, env_file="prod.env").service("web").image == "nginx:prod"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env_file="nope.env")
    assert str(info.value) == "environment file nope.env not found"


def test_project_directory_option(tmp_path):
    write(tmp_path, {"compose/docker-compose.yml": "version: '3'\nservices:\n  web: {build: ./app}\n",
                     "app/Dockerfile": "FROM scratch\n"})
    project = load(tmp_path, files=["compose/docker-compose.yml"], project_dir=".")
    assert project.service("web").build.context == os.path.join(str(tmp_path), "app")


def test_missing_build_context(tmp_path):
    write(tmp_path, {"docker-compose.yml": "version: '3'\nservices:\n  web: {build: ./nope}\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == f"service 'web': build: the context {tmp_path}/nope is not a directory"


def test_extends_file_on_disk(tmp_path):
    write(tmp_path, {"base/common.yml": "version: '2.4'\nservices:\n  b: {image: busybox, user: nobody}\n",
                     "docker-compose.yml": "version: '2.4'\nservices:\n  w:\n    extends: {file: base/common.yml, "
                                           "service: b}\n"})
    assert load(tmp_path).service("w").user == "nobody"
