"""Profiles: --profile, COMPOSE_PROFILES, services named on the command line, dependencies."""

import pytest

from napcompose.errors import ConfigError

from tests.unit.config.conftest import parse

FILE = """services:
  web:
    image: nginx
  debug:
    image: busybox
    profiles: [debug]
  migrate:
    image: tool
    profiles: [tools, ops]
    depends_on: [web]
"""


def names(text=FILE, **kwargs):
    from napcompose.config import parse_project
    return parse_project([("compose.yaml", text)], project_name="p", working_dir="/srv/p", **kwargs).service_names


def test_services_with_profiles_are_off_by_default():
    assert names() == ("web",)


def test_profile_flag_enables_them():
    assert names(profiles=["tools"]) == ("migrate", "web")
    assert names(profiles=["ops", "debug"]) == ("debug", "migrate", "web")


def test_compose_profiles_variable():
    assert names(environ={"COMPOSE_PROFILES": "debug, tools"}) == ("debug", "migrate", "web")


def test_the_flag_wins_over_the_variable():
    assert names(profiles=["debug"], environ={"COMPOSE_PROFILES": "tools"}) == ("debug", "web")


def test_star_enables_every_profile():
    assert names(profiles=["*"]) == ("debug", "migrate", "web")


def test_a_named_service_enables_its_profiles():
    assert names(services=["migrate"]) == ("migrate", "web")


def test_every_profile_is_listed_on_the_project():
    from napcompose.config import parse_project
    project = parse_project([("compose.yaml", FILE)], project_name="p")
    assert project.profiles == ("debug", "ops", "tools")


def test_enabled_service_needing_a_disabled_one_is_refused_naming_both():
    text = FILE + "  app:\n    image: app\n    depends_on: [debug]\n"
    with pytest.raises(ConfigError) as err:
        names(text)
    assert str(err.value) == (
        "compose.yaml:13: service 'app': depends_on: needs service 'debug', which is disabled: its profiles "
        "(debug) are not active (add --profile debug, set COMPOSE_PROFILES, or mark a depends_on entry "
        "required: false)")
    assert names(text, profiles=["debug"]) == ("app", "debug", "web")


def test_link_to_a_disabled_service_is_refused():
    with pytest.raises(ConfigError, match=r"service 'app': links: needs service 'debug', which is disabled"):
        names(FILE + "  app:\n    image: app\n    links: [debug]\n")


def test_optional_dependency_on_a_disabled_or_missing_service_is_dropped_with_a_warning():
    text = FILE + ("  app:\n    image: app\n    depends_on:\n      debug: {condition: service_started, "
                   "required: false}\n      gone: {condition: service_started, required: false}\n")
    warnings = []
    from napcompose.config import parse_project
    project = parse_project([("compose.yaml", text)], project_name="p", warn=warnings.append)
    assert project.service("app").depends_on == ()
    assert ("service 'app': depends_on: 'debug' is disabled by its profiles; it is not required, so the "
            "dependency is dropped") in warnings
    assert any("'gone' is not defined" in w for w in warnings)
    assert [d.service for d in parse_project([("compose.yaml", text)], project_name="p", profiles=["debug"],
                                             warn=warnings.append).service("app").depends_on] == ["debug"]


def test_disabled_services_are_still_validated():
    with pytest.raises(ConfigError, match="compose.yaml:11: service 'migrate': ports: invalid port 'x:y'"):
        names(FILE + "    ports: ['x:y']\n")


def test_bad_profile_name():
    with pytest.raises(ConfigError, match=r"compose.yaml:3: service 'web': profiles: '-x' is not a valid profile"):
        names("services:\n  web:\n    profiles: ['-x']\n    image: nginx\n")


def test_cli_profile_option_and_config_profiles(cli):
    cli.write({"compose.yaml": FILE})
    status, out, _ = cli.run("config", "--services")
    assert (status, out) == (0, "web\n")
    status, out, _ = cli.run("--profile", "debug", "--profile", "tools", "config", "--services")
    assert (status, sorted(out.split())) == (0, ["debug", "migrate", "web"])
    status, out, _ = cli.run("config", "--profiles")
    assert (status, out) == (0, "debug\nops\ntools\n")
    status, out, _ = cli.run("config", "--services", environ={"COMPOSE_PROFILES": "debug"})
    assert sorted(out.split()) == ["debug", "web"]


def test_cli_named_service_enables_its_profile(cli):
    cli.write({"compose.yaml": FILE})
    status, out, _ = cli.run("graph", "migrate")
    assert status == 0 and "migrate" in out


def test_disabled_services_are_named_on_the_project():
    from napcompose.config import parse_project
    project = parse_project([("compose.yaml", FILE)], project_name="p", profiles=["tools"])
    assert project.disabled_services == ("debug",)


def test_compose_profiles_from_dot_env(tmp_path):
    from napcompose.config import load_project
    (tmp_path / "compose.yaml").write_text(FILE)
    (tmp_path / ".env").write_text("COMPOSE_PROFILES=debug\n")
    assert load_project(cwd=str(tmp_path), environ={}).service_names == ("debug", "web")
