"""Which Docker socket an ssh:// URL names on its host."""

import pytest

from napcompose.adapters.docker_channel import DEFAULT_DOCKER_SOCKET, docker_socket


@pytest.mark.parametrize("url,socket", [
    ("ssh://root@198.18.0.11", DEFAULT_DOCKER_SOCKET),
    ("ssh://root@198.18.0.11:2222", DEFAULT_DOCKER_SOCKET),
    ("ssh://198.18.0.11/run/user/1000/docker.sock", "/run/user/1000/docker.sock"),
    ("ssh://deploy@198.18.0.11:22/tmp/lab/node1/docker.sock", "/tmp/lab/node1/docker.sock"),
])
def test_the_url_path_names_the_socket_else_dockers_default(url, socket):
    assert docker_socket(url) == socket
    assert DEFAULT_DOCKER_SOCKET == "/var/run/docker.sock"
