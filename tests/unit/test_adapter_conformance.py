"""Every adapter has every method of the ports it stands for, with the port's parameters.

The unit tests run the core over in-memory fakes; only this check stops a real adapter from missing a
method the fakes have (a method that ends up outside its class, a port that grew a method).
"""

import inspect

import pytest

from napcompose import ports
from napcompose.adapters.docker_engine import DockerEngine
from napcompose.adapters.docker_network import DockerNetworks
from napcompose.adapters.etcd3_store import Etcd3Store
from napcompose.adapters.etcd_store import EtcdStore
from napcompose.adapters.file_store import FileStore
from napcompose.adapters.images import DockerImages
from napcompose.adapters.remote_files import LocalFiles, RemoteFiles
from napcompose.adapters.system import SystemClock

PAIRS = [
    (ports.ContainerEngine, DockerEngine), (ports.DayTwo, DockerEngine),
    (ports.HostNetworks, DockerNetworks), (ports.ImageTransfer, DockerImages),
    (ports.RemoteFiles, RemoteFiles), (ports.RemoteFiles, LocalFiles),
    (ports.KeyValueStore, EtcdStore), (ports.KeyValueStore, Etcd3Store), (ports.KeyValueStore, FileStore),
    (ports.Clock, SystemClock),
]


def _methods(protocol):
    own = {name for klass in protocol.__mro__ if klass.__module__ == ports.__name__ for name in vars(klass)}
    return sorted(name for name in own if not name.startswith("_") and callable(getattr(protocol, name, None)))


@pytest.mark.parametrize("protocol,adapter", PAIRS, ids=lambda x: x.__name__)
def test_the_adapter_has_every_method_of_its_port_with_its_parameters(protocol, adapter):
    for name in _methods(protocol):
        assert callable(getattr(adapter, name, None)), f"{adapter.__name__} lacks {protocol.__name__}.{name}"
        wanted = [p for p in inspect.signature(getattr(protocol, name)).parameters if p != "self"]
        have = inspect.signature(getattr(adapter, name)).parameters
        if any(p.kind is p.VAR_KEYWORD for p in have.values()):
            continue
        missing = [p for p in wanted if p not in have]
        assert not missing, f"{adapter.__name__}.{name} lacks the parameters {missing} of {protocol.__name__}"
