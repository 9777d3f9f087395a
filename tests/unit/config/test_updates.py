"""deploy.update_config / rollback_config: values, defaults from x-nap, and the errors of bad values."""

import pytest

from napcompose.confighash import config_hash
from napcompose.errors import ConfigError
from napcompose.model import FailureAction, UpdateConfig, UpdateOrder

from .conftest import parse


def test_defaults_when_nothing_is_given():
    spec = parse("version: '3.8'\nservices:\n  web: {image: x}\n").service("web")
    assert spec.update == UpdateConfig(parallelism=1, delay_s=0.0, order="stop-first", monitor_s=5.0,
                                       failure_action="pause", max_failure_ratio=0.0)
    assert spec.rollback == UpdateConfig()


def test_every_key_is_read():
    spec = parse("version: '3.8'\nservices:\n  web:\n    image: x\n    deploy:\n      update_config:\n"
                 "        parallelism: 2\n        delay: 1m30s\n        order: start-first\n        monitor: 500ms\n"
                 "        failure_action: rollback\n        max_failure_ratio: 0.5\n"
                 "      rollback_config: {parallelism: 0, failure_action: continue}\n").service("web")
    assert spec.update == UpdateConfig(2, 90.0, "start-first", 0.5, "rollback", 0.5)
    assert spec.rollback == UpdateConfig(parallelism=0, failure_action="continue")
    assert (spec.update.order, spec.update.failure_action) == (UpdateOrder.START_FIRST, FailureAction.ROLLBACK)
    assert spec.rollback.failure_action is FailureAction.CONTINUE


def test_order_and_failure_action_are_members_that_print_as_the_compose_words():
    config = UpdateConfig(order="start-first", failure_action="rollback")
    assert (config.order, config.failure_action) == (UpdateOrder.START_FIRST, FailureAction.ROLLBACK)
    assert config == UpdateConfig(order=UpdateOrder.START_FIRST, failure_action=FailureAction.ROLLBACK)
    assert (str(config.order), f"{config.failure_action}") == ("start-first", "rollback")
    with pytest.raises(ValueError):
        UpdateConfig(order="sideways")


def test_x_nap_gives_defaults_and_a_service_overrides_them_key_by_key():
    project = parse("version: '3.8'\nx-nap:\n  update_config: {parallelism: 3, monitor: 2s}\n"
                    "  rollback_config: {parallelism: 2}\nservices:\n  web:\n    image: x\n"
                    "    deploy: {update_config: {parallelism: 1}}\n  db: {image: y}\n")
    assert (project.service("web").update.parallelism, project.service("web").update.monitor_s) == (1, 2.0)
    assert (project.service("db").update.parallelism, project.service("db").update.monitor_s) == (3, 2.0)
    assert project.service("db").rollback.parallelism == 2


def test_the_update_settings_are_not_in_the_config_hash():
    plain = parse("version: '3.8'\nservices:\n  web: {image: x}\n").service("web")
    tuned = parse("version: '3.8'\nservices:\n  web:\n    image: x\n"
                  "    deploy: {update_config: {parallelism: 0, order: start-first}}\n").service("web")
    assert config_hash(plain) == config_hash(tuned)


BAD = [
    ("    deploy:\n      update_config: {parallelism: -1}\n",
     "docker-compose.yml:6: service 'web': deploy.update_config.parallelism: must be an integer >= 0 "
     "(0: all at once), not -1"),
    ("    deploy:\n      update_config: {delay: soon}\n",
     "docker-compose.yml:6: service 'web': deploy.update_config.delay: 'soon' is not a duration "
     "(write e.g. '10s', '1m30s', '500ms')"),
    ("    deploy:\n      update_config: {failure_action: rolback}\n",
     "docker-compose.yml:6: service 'web': deploy.update_config.failure_action: 'rolback' is not one of "
     "continue, pause, rollback (did you mean 'rollback'?)"),
    ("    deploy:\n      rollback_config: {failure_action: rollback}\n",
     "docker-compose.yml:6: service 'web': deploy.rollback_config.failure_action: 'rollback' is not one of "
     "continue, pause"),
    ("    deploy:\n      update_config: {max_failure_ratio: 1.5}\n",
     "docker-compose.yml:6: service 'web': deploy.update_config.max_failure_ratio: must be a number from 0 "
     "to 1, not 1.5"),
]


@pytest.mark.parametrize("body,message", BAD)
def test_bad_values_name_file_line_service_and_key(body, message):
    with pytest.raises(ConfigError) as caught:
        parse("version: '3.8'\nservices:\n  web:\n    image: x\n" + body)
    assert str(caught.value) == message


def test_bad_x_nap_default_names_the_top_level_key():
    with pytest.raises(ConfigError) as caught:
        parse("version: '3.8'\nx-nap:\n  update_config: {paralelism: 2}\nservices:\n  web: {image: x}\n")
    assert str(caught.value) == ("docker-compose.yml:3: top level: x-nap.update_config.paralelism: unknown key "
                                 "(did you mean 'parallelism'?) (update_config knows parallelism, delay, order, "
                                 "monitor, failure_action, max_failure_ratio)")


def test_bad_order_is_refused_by_the_schema():
    with pytest.raises(ConfigError) as caught:
        parse("version: '3.8'\nservices:\n  web:\n    image: x\n    deploy:\n      update_config: {order: first}\n")
    assert "order" in str(caught.value) and "stop-first" in str(caught.value)


def test_config_renders_the_keys_that_differ_and_they_read_back_the_same():
    from napcompose.config.render import render

    project = parse("version: '3.8'\nx-nap:\n  update_config: {monitor: 2s}\nservices:\n  web:\n    image: x\n"
                    "    deploy:\n      update_config: {parallelism: 2, delay: 1m30s, failure_action: rollback}\n"
                    "      rollback_config: {parallelism: 0}\n")
    text = render(project)
    assert "update_config:" in text and "rollback_config:" in text and "order:" not in text
    again = parse(text).service("web")
    assert (again.update, again.rollback) == (project.service("web").update, project.service("web").rollback)
    assert "update_config" not in render(parse("version: '3.8'\nservices:\n  web: {image: x}\n"))
