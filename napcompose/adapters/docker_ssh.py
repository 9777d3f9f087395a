"""The Docker API of a host over the host's own SSH connection (paramiko), for ``ssh://`` URLs.

docker-py's own ``ssh://`` transport cannot take a known_hosts file or a key, so ssh:// Docker URLs are
served by this small HTTP adapter on the connection ``HostConnections`` (ssh.py) holds. The adapter
reaches the Docker socket through a ``direct-streamlocal@openssh.com`` channel (what ``ssh -L
local:/var/run/docker.sock`` uses): sshd connects the channel to the socket itself, which takes a
millisecond. When the server refuses that channel (forwarding disabled, no such socket) the connection
falls back to running ``docker system dial-stdio`` in a session (ssh.py decides), which costs a session
and a process on the host for every HTTP connection.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from typing import Protocol

import paramiko
from docker.transport import SSHHTTPAdapter
from docker.transport.basehttpadapter import BaseHTTPAdapter
from docker.transport.sshconn import RecentlyUsedContainer, SSHConnection, SSHConnectionPool
from paramiko.channel import Channel
from paramiko.common import cMSG_CHANNEL_OPEN
from paramiko.message import Message

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
STREAMLOCAL = "direct-streamlocal@openssh.com"
DIAL_STDIO = "docker system dial-stdio"  # a constant: nothing from a compose file reaches a shell
TRANSPORT_LOG = "napcompose.ssh.transport"


def docker_socket(docker_url: str) -> str:
    """The Docker socket an ssh:// URL names on its host: the URL's path, else Docker's default."""
    return urllib.parse.urlsplit(docker_url).path or DEFAULT_DOCKER_SOCKET


class _QuietRefusals(logging.Filter):
    """paramiko logs a refused channel open as an ERROR; a refused stream-local open is expected
    (the connection falls back to dial-stdio) and must not reach the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "open FAILED" not in record.getMessage()


logging.getLogger(TRANSPORT_LOG).addFilter(_QuietRefusals())


def open_streamlocal(transport: paramiko.Transport, path: str, timeout: float) -> paramiko.Channel:
    """A channel to the Unix socket ``path`` on the server (RFC 4254 channel open, OpenSSH's
    ``direct-streamlocal@openssh.com`` kind: socket path, reserved string, reserved uint32).

    paramiko's ``open_channel`` writes no extra fields for kinds it does not know, so the open is
    built here the way it builds a direct-tcpip one. Raises paramiko.ChannelException when the
    server refuses, paramiko.SSHException when the connection ends or the answer does not come.
    """
    if not transport.is_active():
        raise paramiko.SSHException("SSH session not active")
    with transport.lock:
        window = transport._sanitize_window_size(None)
        packet = transport._sanitize_packet_size(None)
        chanid = transport._next_channel()
        message = Message()
        message.add_byte(cMSG_CHANNEL_OPEN)
        message.add_string(STREAMLOCAL)
        message.add_int(chanid)
        message.add_int(window)
        message.add_int(packet)
        message.add_string(path)
        message.add_string("")
        message.add_int(0)
        channel = Channel(chanid)
        transport._channels.put(chanid, channel)
        transport.channel_events[chanid] = event = threading.Event()
        transport.channels_seen[chanid] = True
        channel._set_transport(transport)
        channel._set_window(window, packet)
    transport._send_user_message(message)
    deadline = time.monotonic() + timeout
    while not event.wait(0.05):
        if not transport.is_active():
            raise transport.get_exception() or paramiko.SSHException("SSH session ended")
        if time.monotonic() > deadline:
            raise paramiko.SSHException(f"no answer to the {STREAMLOCAL} open of {path}")
    opened = transport._channels.get(chanid)
    if opened is None:  # refused: paramiko saved the reason
        raise transport.get_exception() or paramiko.ChannelException(2, "open refused")
    return opened


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
