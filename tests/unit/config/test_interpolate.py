import pytest

from napcompose.errors import ConfigError

from .conftest import parse

ENV = {"SET": "value", "EMPTY": "", "TAG": "1.2"}


@pytest.mark.parametrize("template,expected", [
    ("$SET", "value"),
    ("${SET}", "value"),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${SET:-dflt}", "value"),
    ("${UNSET-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${SET:?must}", "value"),
    ("${EMPTY?must}", ""),
    ("$$SET", "$SET"),
    ("a$${SET}b", "a${SET}b"),
    ("pre-${SET}-post", "pre-value-post"),
    ("${SET}${TAG}", "value1.2"),
])
def test_each_form(template, expected):
    project = parse(f"services:\n  web:\n    image: busybox\n    labels:\n      l: '{template}'\n", ENV)
    assert dict(project.service("web").labels)["l"] == expected


def test_unset_variable_warns_and_becomes_blank():
    warnings = []
    project = parse("services:\n  web:\n    image: 'busybox${NOPE}'\n", ENV, warn=warnings.append)
    assert project.service("web").image == "busybox"
    assert warnings == ["The NOPE variable is not set. Defaulting to a blank string."]


@pytest.mark.parametrize("template,message", [
    ("${", 'docker-compose.yml:4: invalid interpolation format for "command" option in service "web": '
           '"echo ${" (write "$$" for a literal "$")'),
    ("$ x", 'docker-compose.yml:4: invalid interpolation format for "command" option in service "web": '
            '"echo $ x" (write "$$" for a literal "$")'),
    ("${EMPTY:?is empty}", 'docker-compose.yml:4: missing mandatory value for "command" option interpolating '
                           'echo ${EMPTY:?is empty} in service "web": is empty'),
    ("${UNSET?}", 'docker-compose.yml:4: missing mandatory value for "command" option interpolating '
                  'echo ${UNSET?} in service "web": UNSET is not set'),
])
def test_bad_forms_name_option_service_and_string(template, message):
    with pytest.raises(ConfigError) as info:
        parse(f"services:\n  web:\n    image: busybox\n    command: 'echo {template}'\n", ENV)
    assert str(info.value) == message


def test_interpolated_numbers_and_booleans_are_typed():
    project = parse("services:\n  web:\n    image: busybox\n    scale: ${N}\n    privileged: ${P}\n",
                    {"N": "3", "P": "true"})
    assert project.service("web").scale == 3
    assert project.service("web").privileged is True


def test_interpolated_bad_number_is_a_type_error():
    with pytest.raises(ConfigError) as info:
        parse("services:\n  web:\n    image: busybox\n    scale: ${N}\n", {"N": "three"})
    assert str(info.value) == "docker-compose.yml:4: service 'web': scale: must be an integer, not the string 'three'"


def test_network_sections_are_interpolated():
    project = parse("services:\n  web:\n    image: busybox\n    networks:\n      lan:\n        ipv4_address: ${IP}\n"
                    "networks:\n  lan:\n    ipam:\n      config:\n        - subnet: ${NET}\n",
                    {"IP": "10.0.0.5", "NET": "10.0.0.0/24"})
    assert project.service("web").networks[0].ipv4_address == "10.0.0.5"


def test_aliased_values_are_interpolated_once():
    project = parse("x-a: &a\n  l: '$$HOME'\nservices:\n  web:\n    image: busybox\n    labels: *a\n"
                    "  db:\n    image: busybox\n    labels: *a\n")
    assert dict(project.service("web").labels)["l"] == "$HOME"
    assert dict(project.service("db").labels)["l"] == "$HOME"


@pytest.mark.parametrize("template", ["${TAG:-1}", "${TAG-1}", "${TAG:?must}", "${TAG?must}"])
def test_version_1_files_know_no_defaults_or_required_values(template):
    # docker-compose 1.29.2 reads version 1 files with plain $VAR/${VAR} templates.
    with pytest.raises(ConfigError) as info:
        parse(f"web:\n  image: 'busybox:{template}'\n", ENV)
    assert str(info.value) == (
        f'docker-compose.yml:2: invalid interpolation format for "image" option in service "web": '
        f'"busybox:{template}" (a version 1 file knows only $VAR, ${{VAR}} and $$; defaults and required values '
        'need version 2 or later)')


def test_version_1_files_expand_plain_forms():
    assert parse("web:\n  image: 'busybox:${TAG}'\n  command: echo $$SET $SET\n", ENV).service("web").command == (
        "echo", "$SET", "value")
