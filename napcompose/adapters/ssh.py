"""Connections to the cluster's hosts: one paramiko SSH connection per host carries Docker and SFTP.

Host keys are checked against the host's known_hosts file (or ~/.ssh/known_hosts) with a reject policy.
Accepting a key seen for the first time is an explicit option that records it in that file; a key that
differs from the recorded one is always refused. docker-py's own ``ssh://`` transport cannot take a
known_hosts file or a key, so ssh:// Docker URLs are served by a small HTTP adapter on our own connection.

The adapter reaches the Docker socket through a ``direct-streamlocal@openssh.com`` channel (what
``ssh -L local:/var/run/docker.sock`` uses): sshd connects the channel to the socket itself, which takes
a millisecond. When the server refuses that channel (forwarding disabled, no such socket) the
connection falls back to running ``docker system dial-stdio`` in a session, which costs a session and a
process on the host for every HTTP connection.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import urllib.parse
from typing import Dict, Optional, Tuple

import paramiko

from napcompose.adapters.known_hosts import Revoked, is_revoked, load_known_hosts
from napcompose.adapters.docker_channel import (DIAL_STDIO, STREAMLOCAL, TRANSPORT_LOG, docker_socket,
                                                open_streamlocal)
from napcompose.adapters.docker_get import BadAnswer, get_json
from napcompose.adapters.remote_files import LocalFiles, RemoteFiles
from napcompose.adapters.early_tcp import EarlyConnections, connect_tcp, ssh_target
from napcompose.adapters.sdk_errors import cause
from napcompose.errors import HostError, HostKeyError, NapComposeError
from napcompose.clustermodel import Cluster, Host

DOCKER_API_VERSION = "1.41"
KEEPALIVE_S = 15
HANDSHAKE_S = 10.0  # SSH banner and authentication, once the TCP connection is up
def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of ``key``, e.g. ``ssh-ed25519 SHA256:...``."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"




def _revoked_message(address: str, key: paramiko.PKey, known_hosts: str) -> str:
    return (f"host key of {address} is revoked: {known_hosts} marks {fingerprint(key)} @revoked; "
            "refusing to connect")


class _KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a host key that known_hosts does not list: refuse, or record it when allowed."""

    _file_lock = threading.Lock()

    def __init__(self, host: Host, known_hosts: str, accept_new: bool, revoked: Revoked = frozenset()):
        self.host = host
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self.revoked = revoked

    def missing_host_key(self, client, hostname, key):
        if is_revoked(key, self.revoked):  # never accepted, not even with --accept-new-host-keys
            raise HostKeyError(self.host.name, _revoked_message(hostname, key, self.known_hosts))
        if not self.accept_new:
            raise HostKeyError(self.host.name, (
                f"host key of {hostname} is unknown ({fingerprint(key)}): it is not in {self.known_hosts}; "
                "check the fingerprint and add it there, or pass --accept-new-host-keys"))
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with self._file_lock:
            directory = os.path.dirname(self.known_hosts)
            if directory:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line)
        client.get_host_keys().add(hostname, key.get_name(), key)


class HostConnections:
    """Lazily opened, reused, thread-safe connections to every host of a cluster."""

    def __init__(self, cluster: Cluster, accept_new_host_keys: bool = False,
                 connect_timeout: Optional[float] = None, op_timeout: float = 60.0,
                 early: Optional[EarlyConnections] = None):
        self.cluster = cluster
        self._early = early  # TCP connections begun before this module was loaded
        self.accept_new_host_keys = accept_new_host_keys or cluster.accept_new_host_keys
        self.connect_timeout = connect_timeout  # None: each host's ssh.connect_timeout
        self.op_timeout = op_timeout
        self._hosts: Dict[str, Host] = {h.name: h for h in cluster.hosts}
        self._locks: Dict[str, threading.Lock] = {name: threading.Lock() for name in self._hosts}
        self._ssh: Dict[str, paramiko.SSHClient] = {}
        # A host that could not be reached stays down for the rest of this run: every later call
        # fails at once with the same reason instead of waiting for the timeout again.
        self._down: Dict[str, str] = {}
        self._docker: Dict[str, docker.DockerClient] = {}
        self._files: Dict[str, object] = {}
        # host -> (transport, why stream-local was refused on it): later channels go to dial-stdio
        self._refused: Dict[str, Tuple[object, str]] = {}
        self._closed = False

    def _host(self, name: str) -> Host:
        try:
            return self._hosts[name]
        except KeyError:
            raise HostError(name, f"no such host in the cluster file {self.cluster.source}") from None

    def ssh_target(self, host: Host) -> Tuple[str, int, str]:
        return ssh_target(host)

    def ssh(self, host_name: str) -> paramiko.SSHClient:
        """The host's connected SSH client, opened on first use and reopened when it died."""
        host = self._host(host_name)
        with self._locks[host_name]:
            if self._closed:
                raise HostError(host_name, "connections are closed")
            client = self._ssh.get(host_name)
            transport = client.get_transport() if client else None
            if transport is not None and transport.is_active():
                return client
            if client is not None:
                client.close()
            if host_name in self._down:
                raise HostError(host_name, self._down[host_name])
            try:
                client = self._connect(host)
            except HostError as exc:
                prefix = f"{host_name}: "
                text = str(exc)
                self._down[host_name] = text[len(prefix):] if text.startswith(prefix) else text
                raise
            self._ssh[host_name] = client
            return client

    def connect_timeout_of(self, host: Host) -> float:
        return self.connect_timeout if self.connect_timeout is not None else host.ssh.connect_timeout_s

    def _connect(self, host: Host) -> paramiko.SSHClient:
        address, port, user = self.ssh_target(host)
        known_hosts = host.ssh.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        client = paramiko.SSHClient()
        revoked = frozenset()
        try:
            if os.path.exists(known_hosts):
                revoked = load_known_hosts(known_hosts, client.get_host_keys())
        except (OSError, NapComposeError) as exc:
            raise HostError(host.name, f"reading known_hosts {known_hosts}: {cause(exc)}") from exc
        client.set_missing_host_key_policy(_KnownHostsPolicy(host, known_hosts, self.accept_new_host_keys,
                                                             revoked))
        key_file = host.ssh.key_file
        try:
            # The TCP connection decides whether the host is there at all, so it gets the short
            # connect timeout; a host that answered gets longer for the handshake (a loaded host is
            # slow, not gone). The socket is always ours: given one, paramiko's ``timeout`` bounds
            # only the key exchange, which must get the handshake's deadline, not the connect's.
            connect = self.connect_timeout_of(host)
            handshake = max(connect, HANDSHAKE_S)
            sock = self._tcp(host, address, port, user, connect)
            client.connect(hostname=address, port=port, username=user, key_filename=key_file, sock=sock,
                           look_for_keys=key_file is None, allow_agent=key_file is None,
                           timeout=handshake, banner_timeout=handshake,
                           auth_timeout=handshake, channel_timeout=self.op_timeout)
        except HostKeyError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(host.name, (
                f"host key of {address} CHANGED: {known_hosts} has {fingerprint(exc.expected_key)}, "
                f"the server offered {fingerprint(exc.key)}; refusing to connect (a changed key may mean "
                "someone is intercepting the connection; remove the old line only if you know why it changed)"
            )) from exc
        except HostError:
            client.close()
            raise
        except socket.timeout as exc:
            client.close()
            raise HostError(host.name, f"SSH connection to {user}@{address}:{port}: no answer to the SSH "
                                       f"handshake within {handshake:g} s") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise HostError(host.name, f"SSH connection to {user}@{address}:{port}: {cause(exc)}") from exc
        offered = client.get_transport().get_remote_server_key()
        if is_revoked(offered, revoked):  # listed as known elsewhere in the file, and revoked too
            client.close()
            raise HostKeyError(host.name, _revoked_message(address, offered, known_hosts))
        client.get_transport().set_keepalive(KEEPALIVE_S)
        client.get_transport().set_log_channel(TRANSPORT_LOG)
        return client

    def _tcp(self, host: Host, address: str, port: int, user: str, deadline: float) -> socket.socket:
        """The TCP connection to the host's sshd: the one begun early, else a fresh one. No answer
        within ``deadline`` or a refusal is a HostError: the host is down for the run."""
        try:
            sock = self._early.take((address, port)) if self._early is not None else None
            return sock if sock is not None else connect_tcp((address, port), deadline)
        except socket.timeout as exc:
            raise HostError(host.name, f"SSH connection to {user}@{address}:{port}: no answer within "
                                       f"{deadline:g} s (ssh.connect_timeout)") from exc
        except OSError as exc:  # refused, no route: the words alone, without "[Errno N]"
            raise HostError(host.name, f"SSH connection to {user}@{address}:{port}: "
                                       f"{exc.strerror or cause(exc)}") from exc

    def docker_channel(self, host_name: str, transport, timeout: float) -> paramiko.Channel:
        """A channel carrying one HTTP connection to the host's Docker daemon.

        A stream-local channel to the socket when the server grants it; otherwise a session running
        ``docker system dial-stdio``. A refusal is remembered for the life of the SSH connection.
        """
        host = self._host(host_name)
        refused = self._refused.get(host_name)
        if refused is None or refused[0] is not transport:
            try:
                # docker-py asks for no timeout on long reads (builds, logs); the open still has one
                opening = self.op_timeout if timeout is None else timeout
                channel = open_streamlocal(transport, docker_socket(host.docker_url), opening)
                channel.settimeout(timeout)
                return channel
            except paramiko.ChannelException as exc:
                self._refused[host_name] = (transport, getattr(exc, "text", None) or cause(exc))
            except AttributeError as exc:  # a paramiko whose Transport internals differ
                self._refused[host_name] = (transport, f"not available with this paramiko ({exc})")
        channel = transport.open_session()
        channel.settimeout(timeout)
        channel.exec_command(DIAL_STDIO)
        return channel

    def docker_route(self, host_name: str) -> str:
        """How the host's Docker daemon is reached on the current connection, for diagnostics."""
        host = self._host(host_name)
        if not host.docker_url.startswith("ssh://"):
            return host.docker_url
        refused = self._refused.get(host_name)
        client = self._ssh.get(host_name)
        if refused is not None and client is not None and refused[0] is client.get_transport():
            return f"{DIAL_STDIO} ({STREAMLOCAL} refused: {refused[1]})"
        return f"{STREAMLOCAL} {docker_socket(host.docker_url)}"

    def lists_without_docker_py(self, host_name: str) -> bool:
        """Whether a listing of the host's containers is better asked with ``docker_get`` than with
        docker-py: an ssh:// host whose Docker client this run has not made yet (docker-py keeps its
        channels open for the calls that follow; ``docker_get`` opens one per call) and whose server
        did not refuse stream-local channels (under ``docker system dial-stdio`` every channel is a
        process on the host)."""
        host = self._host(host_name)
        if not host.docker_url.startswith("ssh://") or host_name in self._docker:
            return False
        refused = self._refused.get(host_name)
        client = self._ssh.get(host_name)
        return refused is None or client is None or refused[0] is not client.get_transport()

    def docker_get(self, host_name: str, path: str):
        """The JSON the Docker daemon of an ``ssh://`` host answers to a GET of ``path`` (under the API
        version the Docker clients use), on a channel of the host's SSH connection, without docker-py
        (docker_get.py). A refusal or an answer that is not HTTP is a HostError with the daemon's
        message; the connection's errors propagate."""
        client = self.ssh(host_name)
        channel = self.docker_channel(host_name, client.get_transport(), self.op_timeout)
        try:
            return get_json(channel, f"/v{DOCKER_API_VERSION}{path}")
        except BadAnswer as exc:
            raise HostError(host_name, str(exc)) from exc
        finally:
            channel.close()

    def docker(self, host_name: str) -> "docker.DockerClient":
        """The host's Docker client; for ssh:// it speaks through this host's SSH connection."""
        host = self._host(host_name)
        with self._locks[host_name]:
            client = self._docker.get(host_name)
            if client is None:
                client = self._make_docker(host)
                self._docker[host_name] = client
            return client

    def _make_docker(self, host: Host) -> "docker.DockerClient":
        # docker-py (with requests and urllib3) loads only for a command that uses it: `ps` does not.
        import docker
        import docker.errors
        import docker.tls

        from napcompose.adapters.docker_ssh import DockerChannelAdapter

        url = host.docker_url
        try:
            if url.startswith("ssh://"):
                # docker-py refuses a path in an ssh:// URL; the path (the socket) is ours to use.
                base = urllib.parse.urlsplit(url)._replace(path="", query="", fragment="").geturl()
                client = docker.DockerClient(base_url=base, use_ssh_client=True, version=DOCKER_API_VERSION,
                                             timeout=self.op_timeout)
                adapter = DockerChannelAdapter(self, host.name, self.op_timeout)
                client.api.mount("http+docker://ssh", adapter)
                client.api._custom_adapter = adapter
                return client
            if url.startswith("tcp://") and not host.insecure_tcp:
                tls = docker.tls.TLSConfig(
                    client_cert=(host.tls_cert, host.tls_key) if host.tls_cert else None,
                    ca_cert=host.tls_ca, verify=host.tls_ca or False)
                return docker.DockerClient(base_url=url, tls=tls, version=DOCKER_API_VERSION,
                                           timeout=self.op_timeout)
            return docker.DockerClient(base_url=url, version=DOCKER_API_VERSION, timeout=self.op_timeout)
        except (docker.errors.DockerException, OSError, ValueError) as exc:
            raise HostError(host.name, f"setting up the Docker client for {url}: {cause(exc)}") from exc

    def files(self, host_name: str):
        """The host's RemoteFiles: SFTP on the shared connection (the local file system for unix://)."""
        host = self._host(host_name)
        with self._locks[host_name]:
            files = self._files.get(host_name)
            if files is None:
                files = LocalFiles(host.name) if host.docker_url.startswith("unix://") \
                    else RemoteFiles(self, host.name)
                self._files[host_name] = files
            return files

    def drop(self, host_name: str) -> None:
        """Close ``host_name``'s connections now: a call waiting on them fails at once instead of at
        the operation timeout (a host cut off mid-call); a later call connects again."""
        with self._locks[host_name]:
            closers = (self._files.pop(host_name, None), self._docker.pop(host_name, None),
                       self._ssh.pop(host_name, None))
        for closer in closers:
            if closer is not None:
                try:
                    closer.close()
                except Exception:  # the connection is going away either way
                    pass

    def warm(self) -> None:
        """Connect to every host and open its Docker channel in the background (a ``_ping``), for a
        command that is about to take the project lock: the handshakes overlap the store's round
        trips instead of following them. Nothing waits for this; a host that fails is left to the
        command's first call there, which meets the same recorded error (``ssh``'s ``_down``)."""
        def one(name: str) -> None:
            try:
                if self._hosts[name].docker_url.startswith("ssh://"):
                    self.ssh(name)  # first: the handshake needs no docker-py, which loads meanwhile
                self.docker(name).api.ping()
            except Exception:  # the command's own call reports it, in its order
                pass

        for name in self._hosts:
            threading.Thread(target=one, args=(name,), name=f"warm-{name}", daemon=True).start()

    def close(self) -> None:
        """Close every connection; safe to call twice."""
        self._closed = True  # a connection a background warm-up would still open is refused
        if self._early is not None:
            self._early.close()
        for name in list(self._hosts):
            with self._locks[name]:
                files = self._files.pop(name, None)
                docker_client = self._docker.pop(name, None)
                ssh_client = self._ssh.pop(name, None)
            for closer in (files, docker_client, ssh_client):
                if closer is not None:
                    try:
                        closer.close()
                    except Exception:  # closing must not hide the command's outcome
                        pass
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
