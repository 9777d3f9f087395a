"""The adapters import paramiko without the task runner invoke, and leave invoke importable."""

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_paramiko_is_imported_without_invoke():
    out = _run("import sys; import napcompose.adapters.ssh, paramiko.config; "
               "print('invoke' in sys.modules, paramiko.config.invoke is None, 'paramiko' in sys.modules)")
    assert out == "False True True"


def test_invoke_stays_importable_afterwards():
    pytest.importorskip("invoke")
    assert _run("import napcompose.adapters.ssh; import invoke; print(invoke.__name__)") == "invoke"


def test_invoke_loaded_before_is_left_alone():
    pytest.importorskip("invoke")
    out = _run("import invoke, sys; import napcompose.adapters.ssh, paramiko.config; "
               "print(paramiko.config.invoke is sys.modules['invoke'])")
    assert out == "True"


def test_the_early_connections_begin_before_paramiko_loads():
    out = _run("import sys; import napcompose.adapters.early_tcp; print('paramiko' in sys.modules)")
    assert out == "False"


def test_paramiko_loaded_by_docker_py_is_without_invoke_too():
    out = _run("import sys; import napcompose.adapters, docker, paramiko.config; "
               "print('invoke' in sys.modules, paramiko.config.invoke is None)")
    assert out == "False True"


def test_listing_containers_over_ssh_loads_neither_docker_py_nor_requests():
    out = _run("import sys; import napcompose.adapters.ssh, napcompose.adapters.docker_engine; "
               "print('docker' in sys.modules, 'requests' in sys.modules, 'urllib3' in sys.modules)")
    assert out == "False False False"
