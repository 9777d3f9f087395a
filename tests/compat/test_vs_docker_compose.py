"""nap-compose's verdict on each file of the corpus beside docker-compose 1.29.2's.

Each directory under ``cases/`` is one project; ``ARGS`` (when present) lists the ``-f`` files.
For valid projects the services, links and depends_on must match too. Differences kept on purpose are
listed in EXPECTED_DIFFERENCES (and in docs/compose.md); a case there must still differ, so the list
cannot go stale.
"""

import os
import pathlib
import shutil
import subprocess

import pytest
import yaml

from napcompose.config import load_project
from napcompose.errors import NapComposeError

CASES = pathlib.Path(__file__).parent / "cases"
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"

# case -> why nap-compose decides otherwise than docker-compose 1.29.2
EXPECTED_DIFFERENCES = {
    "73_bad_container_name_scaled": "docker-compose warns at `up` and starts one container; refused here",
    "74_bad_hostname_chars": "names reaching /etc/hosts must be hostname labels",
    "75_bad_xnap_key": "x-nap is nap-compose's own extension and is validated",
    "63_bad_undefined_network": "docker-compose's `config` accepts it; `up` then fails",
    "70_bad_ipv4_outside_subnet": "docker-compose's `config` accepts it; the engine refuses it at `up`",
    "71_bad_scale_and_replicas": "docker-compose's `config` accepts it; `up` then refuses it",
    "72_bad_duplicate_key": "PyYAML keeps the last of two equal keys silently; refused here",
    "85_bad_internal_network": "the cluster's network is not isolated, so internal: true is refused here",
    "86_bad_profile_dependency": "docker-compose's `config` accepts it; here the dependency is on a disabled service",
    "87_top_level_name": "name: is a docker compose v2 key, which 1.29.2 does not know",
    "88_include": "include: is a docker compose v2 key, which 1.29.2 does not know",
    "13_volumes_from_network_mode": "volumes_from and another container's network namespace need both "
                                    "containers on one host, and replicas are placed across hosts: refused here",
}


def _cases():
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _files(case_dir):
    args = case_dir / "ARGS"
    return args.read_text().split() if args.exists() else None


def _docker_compose(case_dir, files):
    if not os.path.exists(DOCKER_COMPOSE):
        pytest.fail("docker-compose 1.29.2 is needed for the compat tests (apt-get install docker-compose)")
    argv = [DOCKER_COMPOSE]
    for f in files or ():
        argv += ["-f", f]
    argv.append("config")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(case_dir)}
    proc = subprocess.run(argv, cwd=case_dir, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return None, proc.stderr
    return yaml.safe_load(proc.stdout), proc.stderr


def _summary_from_docker_compose(doc):
    out = {}
    for name, svc in (doc.get("services") or {}).items():
        links = []
        for entry in svc.get("links") or ():
            target, _, alias = entry.partition(":")
            links.append((target, alias or target))
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        out[name] = (sorted(links), sorted((k, (v or {}).get("condition", "service_started"))
                                           for k, v in deps.items()))
    return out


def _summary_from_project(project):
    return {s.name: (sorted((l.service, l.alias) for l in s.links),
                     sorted((d.service, d.condition) for d in s.depends_on)) for s in project.services}


def _nap(case_dir, files):
    try:
        return load_project(files=files, environ={}, cwd=str(case_dir)), None
    except NapComposeError as exc:
        return None, str(exc)


@pytest.mark.compat
@pytest.mark.parametrize("case", _cases())
def test_same_verdict_as_docker_compose(case):
    case_dir = CASES / case
    files = _files(case_dir)
    theirs, their_err = _docker_compose(case_dir, files)
    ours, our_err = _nap(case_dir, files)
    same_verdict = (theirs is None) == (ours is None)
    if case in EXPECTED_DIFFERENCES:
        assert not same_verdict, f"{case} now agrees with docker-compose; drop it from EXPECTED_DIFFERENCES"
        return
    assert same_verdict, f"docker-compose: {'invalid: ' + their_err if theirs is None else 'valid'}; " \
                         f"nap-compose: {'invalid: ' + our_err if ours is None else 'valid'}"
    if ours is not None:
        assert _summary_from_project(ours) == _summary_from_docker_compose(theirs)


def test_corpus_is_large_enough():
    assert len(_cases()) >= 40
