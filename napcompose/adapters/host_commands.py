"""One fixed command on a host over its shared SSH connection: argv joined with shlex.quote, data on stdin.

Every caller passes a constant program and arguments it made and checked itself; whatever comes from
a compose or cluster file travels on stdin or as a quoted argument, never as shell text. A command
is run once more on a fresh connection when the connection died under it (``once_more_if_dropped``):
callers only send commands that are harmless to run twice.
"""

from __future__ import annotations

import shlex
from typing import Sequence, Tuple, Union

from napcompose.adapters.dropped import once_more_if_dropped
from napcompose.adapters.sdk_errors import cause, sdk_errors
from napcompose.errors import HostError

COMMAND_TIMEOUT_S = 20.0


def run_command(connections, host: str, argv: Sequence[str], stdin: Union[None, str, bytes] = None,
                timeout: float = COMMAND_TIMEOUT_S, raw: bool = False) -> Tuple[int, Union[str, bytes], str]:
    """(exit status, stdout, stderr) of ``argv`` on ``host``; HostError when the connection fails.
    ``raw``: stdout as the bytes sent, not decoded."""
    def alive():
        transport = connections.ssh(host).get_transport()
        return lambda: transport is not None and transport.is_active()

    return once_more_if_dropped(alive, lambda: _once(connections, host, argv, stdin, timeout, raw))


def _once(connections, host: str, argv: Sequence[str], stdin: Union[None, str, bytes],
          timeout: float, raw: bool) -> Tuple[int, Union[str, bytes], str]:
    client = connections.ssh(host)
    try:
        channel_in, channel_out, channel_err = client.exec_command(shlex.join(argv), timeout=timeout)
        if stdin is not None:
            channel_in.write(stdin.encode() if isinstance(stdin, str) else stdin)
            channel_in.flush()
        channel_in.channel.shutdown_write()
        out = channel_out.read()
        out = out if raw else out.decode(errors="replace")
        err = channel_err.read().decode(errors="replace")
        status = channel_out.channel.recv_exit_status()
    except (OSError, EOFError) as exc:
        raise HostError(host, f"ssh command failed: {exc}") from exc
    except sdk_errors() as exc:
        raise HostError(host, f"ssh command failed: {cause(exc)}") from exc
    if status == -1:
        # paramiko's answer when the channel closed without an exit status: the connection ended
        # under the command (the once-more rule then runs it again on a fresh one), or the command
        # died of a signal
        raise HostError(host, f"ssh command {argv[0]} ended without an exit status (its channel or the connection "
                              "closed)") from EOFError("no exit status")
    return status, out, err

