"""The Docker API of a host over the host's own SSH connection (paramiko), for ``ssh://`` URLs.

docker-py's own ``ssh://`` transport cannot take a known_hosts file or a key, so ssh:// Docker URLs are
served by this small HTTP adapter on the connection ``HostConnections`` (ssh.py) holds. Each HTTP
connection of the adapter is one channel to the Docker socket (docker_channel.py): a
``direct-streamlocal@openssh.com`` channel, or ``docker system dial-stdio`` in a session when the
server refuses that (ssh.py decides), which costs a session and a process on the host for every HTTP
connection.
"""

from __future__ import annotations

from typing import Protocol

import paramiko
from docker.transport import SSHHTTPAdapter
from docker.transport.basehttpadapter import BaseHTTPAdapter
from docker.transport.sshconn import RecentlyUsedContainer, SSHConnection, SSHConnectionPool


class Connections(Protocol):
    """What the adapter needs of the host connections that own it (``HostConnections`` in ssh.py)."""

    def ssh(self, host_name: str) -> paramiko.SSHClient:
        """The host's connected SSH client."""

    def docker_channel(self, host_name: str, transport, timeout: float) -> paramiko.Channel:
        """A channel carrying one HTTP connection to the host's Docker daemon."""


_POOL_KEY = "ssh"


class _DockerChannelConnection(SSHConnection):
    """An HTTP connection whose socket is a channel to the host's Docker socket."""

    def __init__(self, connections: Connections, host_name: str, ssh_transport, timeout: float):
        super().__init__(ssh_transport=ssh_transport, timeout=timeout, host=host_name)
        self._connections = connections
        self._host_name = host_name

    def connect(self):
        self.sock = self._connections.docker_channel(self._host_name, self.ssh_transport, self.timeout)


class _DockerChannelPool(SSHConnectionPool):
    def __init__(self, connections: Connections, host_name: str, client, timeout: float, maxsize: int):
        super().__init__(ssh_client=client, timeout=timeout, maxsize=maxsize, host=host_name)
        self._connections = connections
        self._host_name = host_name

    def _new_conn(self):
        return _DockerChannelConnection(self._connections, self._host_name, self.ssh_transport, self.timeout)


class DockerChannelAdapter(SSHHTTPAdapter):
    """docker-py's SSH adapter, fed with an already connected paramiko client of ours."""

    def __init__(self, connections: Connections, host_name: str, timeout: float, max_pool_size: int = 10):
        # Skip SSHHTTPAdapter.__init__: it would build and connect its own client.
        self._connections = connections
        self._host_name = host_name
        self.ssh_client = None
        self.ssh_host = host_name
        self.ssh_params = {}
        self.timeout = timeout
        self.max_pool_size = max_pool_size
        self.pools = RecentlyUsedContainer(10, dispose_func=lambda p: p.close())
        BaseHTTPAdapter.__init__(self)

    def get_connection(self, url, proxies=None):
        client = self._connections.ssh(self._host_name)
        transport = client.get_transport()
        # One pool for every URL: requests passes the full request URL here, and a pool per URL
        # would open a new channel (and a new `docker system dial-stdio` on the host) for every
        # container id the API names, at 150-250 ms each.
        with self.pools.lock:
            pool = self.pools.get(_POOL_KEY)
            if pool is not None and pool.ssh_transport is transport:
                return pool
            pool = _DockerChannelPool(self._connections, self._host_name, client, self.timeout,
                                      self.max_pool_size)
            self.pools[_POOL_KEY] = pool
        return pool

    def close(self):
        # The SSH connection belongs to HostConnections; only the HTTP pools are ours.
        self.pools.clear()
