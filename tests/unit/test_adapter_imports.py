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


def test_the_etcd_store_loads_without_running_dnspythons_resolver():
    out = _run("import sys; import napcompose.adapters.etcd_store, etcd.client; "
               "print('dns.resolver' in sys.modules, 'dns.name' in sys.modules, 'dns.rdtypes' in sys.modules)")
    assert out == "True False False"  # made, not run: python-etcd only names it for SRV discovery


def test_the_resolver_runs_in_full_on_first_use():
    out = _run("import sys; import napcompose.adapters.etcd_store, etcd.client; "
               "print(etcd.client.dns.resolver.Resolver.__name__, 'dns.name' in sys.modules)")
    assert out == "Resolver True"


def test_a_resolver_loaded_before_is_left_alone():
    out = _run("import sys, types; import dns.resolver; import napcompose.adapters.etcd_store; "
               "print(type(sys.modules['dns.resolver']) is types.ModuleType, 'dns.name' in sys.modules)")
    assert out == "True True"
