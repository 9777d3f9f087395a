"""A channel to a host's Docker socket over the host's SSH connection (paramiko), without docker-py.

The channel is a ``direct-streamlocal@openssh.com`` one (what ``ssh -L local:/var/run/docker.sock``
uses): sshd connects it to the socket itself, which takes a millisecond. When the server refuses that
channel, ssh.py runs ``docker system dial-stdio`` in a session instead. docker_ssh.py carries
docker-py's HTTP over these channels; docker_get.py carries one GET of its own (``ps`` lists
containers without loading docker-py and requests).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse

import paramiko
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
