"""Fields added to the model for today's compose files leave the config hash of older files alone.

The expected hashes were computed by the release before profiles, depends_on.restart and
healthcheck.start_interval existed: a newer nap-compose must not recreate the containers it started.
"""

from napcompose.config import parse_project
from napcompose.confighash import config_hash

TEXT = """services:
  web:
    image: nginx
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: [CMD, "true"]
      interval: 5s
  db:
    image: redis
"""


def _hashes(text):
    project = parse_project([("compose.yaml", text)], project_name="p", working_dir="/srv/p", profiles=["*"])
    return config_hash(project.service("web")), config_hash(project.service("db"))


def test_hash_of_a_file_without_the_new_keys_is_unchanged():
    assert _hashes(TEXT) == ("5720eea8722332f8bdaac5df470b5471f0a3178145bbdc4cdb7f96fcd481f14f",
                             "14d04500a7cd78c210a5fdcdfcd1b191bb9b8ab40cc0cf18e31126e375ea76b6")


def test_profiles_do_not_reach_the_hash():
    assert _hashes(TEXT.replace("    image: redis\n", "    image: redis\n    profiles: [data]\n")) == _hashes(TEXT)


def test_new_keys_change_the_hash_when_set():
    web, _ = _hashes(TEXT)
    assert _hashes(TEXT.replace("service_healthy}", "service_healthy, restart: true}"))[0] != web
    assert _hashes(TEXT.replace("interval: 5s", "interval: 5s\n      start_interval: 1s"))[0] != web
