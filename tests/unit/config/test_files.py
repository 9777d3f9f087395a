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


SELF_EXTENDS = """version: '2.4'
services:
  base: {image: busybox, environment: {LEVEL: base}}
  mid:
    extends: {file: docker-compose.yml, service: base}
    labels: {tier: mid}
  web:
    extends: {file: ./docker-compose.yml, service: mid}
    command: sleep 1
"""


def test_extends_file_naming_the_file_itself(tmp_path):
    # Read as that same file: no second copy, no loop (docker-compose 1.29.2 accepts it too).
    write(tmp_path, {"docker-compose.yml": SELF_EXTENDS})
    web = load(tmp_path).service("web")
    assert (web.image, dict(web.environment), dict(web.labels), web.command) == (
        "busybox", {"LEVEL": "base"}, {"tier": "mid"}, ("sleep", "1"))


def test_extends_file_naming_the_file_itself_from_another_directory(tmp_path):
    write(tmp_path, {"sub/docker-compose.yml": SELF_EXTENDS})
    assert load(tmp_path, files=["sub/docker-compose.yml"]).service("web").image == "busybox"


def test_extends_itself_through_its_own_file_is_a_loop(tmp_path):
    write(tmp_path, {"docker-compose.yml": "version: '2.4'\nservices:\n  web:\n    image: x\n"
                                           "    extends: {file: docker-compose.yml, service: web}\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == ("docker-compose.yml:5: service 'web': circular extends: docker-compose.yml:web "
                               "-> docker-compose.yml:web")


def test_extends_loop_through_own_file_in_another_file(tmp_path):
    write(tmp_path, {"docker-compose.yml": "version: '2.4'\nservices:\n  web:\n"
                                           "    extends: {file: lib/common.yml, service: a}\n",
                     "lib/common.yml": "version: '2.4'\nservices:\n  a:\n    image: x\n"
                                       "    extends: {file: ../lib/common.yml, service: b}\n"
                                       "  b:\n    image: x\n    extends: a\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    path = os.path.join(str(tmp_path), "lib", "common.yml")
    assert str(info.value) == (f"{path}:8: service 'b': circular extends: docker-compose.yml:web -> common.yml:a "
                               "-> common.yml:b -> common.yml:a")


def test_extends_chain_back_into_the_first_file(tmp_path):
    write(tmp_path, {"docker-compose.yml": "version: '2.4'\nservices:\n  base: {image: busybox}\n  web:\n"
                                           "    extends: {file: common.yml, service: mid}\n",
                     "common.yml": "version: '2.4'\nservices:\n  mid:\n"
                                   "    extends: {file: docker-compose.yml, service: base}\n"
                                   "    environment: {LEVEL: mid}\n"})
    web = load(tmp_path).service("web")
    assert (web.image, dict(web.environment)) == ("busybox", {"LEVEL": "mid"})


def test_a_long_extends_chain_is_not_limited_by_the_stack(tmp_path):
    count = 1200  # deeper than Python's default recursion limit
    lines = ["version: '2.4'", "services:", "  s0: {image: busybox}"]
    lines += [f"  s{i}: {{extends: s{i - 1}}}" for i in range(1, count)]
    write(tmp_path, {"docker-compose.yml": "\n".join(lines) + "\n"})
    assert load(tmp_path).service(f"s{count - 1}").image == "busybox"


def test_extends_file_name_holding_a_nul_character(tmp_path):
    write(tmp_path, {"docker-compose.yml": "version: '2.4'\nservices:\n  web:\n"
                                           "    extends: {file: \"a\\0b\", service: x}\n"})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == f"'{tmp_path}/a\\x00b': cannot read the file: the name holds a NUL character"
