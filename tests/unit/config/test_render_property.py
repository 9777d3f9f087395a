"""``config`` output re-reads to the same model, and is deterministic."""

import dataclasses
import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napcompose.config import parse_project, render

NAMES = st.from_regex(r"[a-z][a-z0-9_.-]{0,8}", fullmatch=True)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\x85\u2028\u2029"),
               max_size=12)
PORT = st.integers(1, 65535)


@st.composite
def services(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    out = {}
    for index, name in enumerate(names):
        earlier = names[:index]  # only earlier services: no cycles
        svc = {"image": draw(st.from_regex(r"[a-z]{1,6}(:[a-z0-9.]{1,4})?", fullmatch=True))}
        if earlier and draw(st.booleans()):
            svc["links"] = [f"{t}:{draw(NAMES)}" for t in draw(st.lists(st.sampled_from(earlier), unique=True))]
        if earlier and draw(st.booleans()):
            svc["depends_on"] = {t: {"condition": draw(st.sampled_from(["service_started", "service_healthy"]))}
                                 for t in draw(st.lists(st.sampled_from(earlier), unique=True))}
        if draw(st.booleans()):
            svc["environment"] = draw(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), TEXT,
                                                      max_size=3))
        if draw(st.booleans()):
            svc["command"] = draw(st.lists(TEXT, max_size=3))
        if draw(st.booleans()):
            svc["ports"] = [f"{draw(PORT)}:{draw(PORT)}/{draw(st.sampled_from(['tcp', 'udp']))}",
                            draw(PORT)]
        if draw(st.booleans()):
            svc["scale"] = draw(st.integers(0, 4))
        if draw(st.booleans()):
            svc["x-nap"] = {"strategy": draw(st.sampled_from(["spread", "binpack", "random"])),
                            "max_per_host": draw(st.integers(1, 3)),
                            "hosts": draw(st.lists(NAMES, max_size=2))}
        if draw(st.booleans()):
            svc["healthcheck"] = {"test": ["CMD", draw(TEXT)], "interval": f"{draw(st.integers(1, 90))}s",
                                  "retries": draw(st.integers(0, 5))}
        if draw(st.booleans()):
            svc["labels"] = draw(st.dictionaries(NAMES, TEXT, max_size=2))
        if draw(st.booleans()):
            svc["hostname"] = draw(NAMES)
            svc["stop_grace_period"] = f"{draw(st.integers(0, 100))}ms"
            svc["mem_limit"] = f"{draw(st.integers(1, 999))}m"
        if draw(st.booleans()):
            svc["security_opt"] = draw(st.lists(TEXT.filter(str.strip), max_size=2, unique=True))
            svc["cpu_shares"] = draw(st.integers(0, 262144))
            svc["oom_score_adj"] = draw(st.integers(-1000, 1000))
            svc["pids_limit"] = draw(st.integers(-1, 4096))
            svc["devices"] = [f"/dev/{draw(NAMES)}:/dev/{draw(NAMES)}:{draw(st.sampled_from(['r', 'rw', 'rwm']))}"]
            svc["blkio_config"] = {"weight": draw(st.integers(10, 1000)),
                                   "device_read_bps": [{"path": "/dev/sda", "rate": draw(st.integers(0, 1 << 30))}]}
        out[name] = svc
    top = {"strategy": draw(st.sampled_from(["spread", "binpack", "random"])), "seed": draw(st.integers(0, 99))}
    return {"version": "3.8", "x-nap": top, "services": out}


def _escape(value):
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _parse(text, name="file.yml"):
    return parse_project([(name, text)], project_name="p", working_dir="/srv/p")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services())
def test_rendered_yaml_reads_back_to_the_same_project(doc):
    original = _parse(yaml.safe_dump(_escape(doc)))
    again = _parse(render(original), "rendered.yml")
    assert dataclasses.replace(again, source_files=original.source_files) == original


@settings(max_examples=30, deadline=None)
@given(services())
def test_rendered_json_reads_back_and_is_deterministic(doc):
    original = _parse(json.dumps(_escape(doc)))
    text = render(original, "json")
    assert text == render(_parse(json.dumps(_escape(doc))), "json")
    again = _parse(text, "rendered.json")
    assert dataclasses.replace(again, source_files=original.source_files) == original


def test_config_output_of_the_guestbook(cli):
    cli.write({"docker-compose.yml": "web:\n  image: guestbook\n  ports: ['80:80']\n  links: ['db:redis']\n"
                                     "db:\n  image: redis\n"})
    status, out, err = cli.run("-p", "gb", "config")
    assert (status, err) == (0, "")
    assert out == ("name: gb\nservices:\n  db:\n    image: redis\n    scale: 1\n  web:\n    image: guestbook\n    links:\n"
                   "    - db:redis\n    ports:\n    - 80:80/tcp\n    scale: 1\nx-nap:\n  seed: 0\n  strategy: spread\n")


def test_config_services_in_start_order_and_quiet(cli):
    cli.write({"docker-compose.yml": "version: '2'\nservices:\n  web: {image: x, depends_on: [api]}\n"
                                     "  api: {image: x, links: [db]}\n  db: {image: x}\n  aaa: {image: x}\n"})
    assert cli.run("config", "--services") == (0, "aaa\ndb\napi\nweb\n", "")
    assert cli.run("config", "-q") == (0, "", "")


def test_config_prints_ignored_warnings_on_stderr(cli):
    cli.write({"docker-compose.yml": "version: '3'\nservices:\n  web: {image: x, cpu_count: 2}\n"})
    status, out, err = cli.run("config", "-q")
    assert (status, out, err) == (0, "", "WARNING: service 'web': 'cpu_count' is ignored by nap-compose: a Windows "
                                         "option\n")
