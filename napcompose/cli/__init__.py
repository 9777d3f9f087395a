"""The command line: argparse, the composition root, and the mapping from errors to exit statuses.

``main`` takes its streams, environment and wiring as arguments so tests run it in process.
Each command group lives in its own module with a ``register(subparsers)`` function; handlers
take ``(args, ctx)`` and return an exit status.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
import traceback
from typing import Mapping, Optional, Sequence, TextIO

from napcompose import __version__
from napcompose.errors import ExitStatus, NapComposeError, UsageError
from napcompose.cli.context import Context
from napcompose.cli.wiring import Wiring

# Command modules, in the order their commands appear in --help.
_COMMAND_MODULES = (
    "napcompose.cli.project_cmd",
    "napcompose.cli.watch_cmd",
    "napcompose.cli.logs_cmd",
    "napcompose.cli.pause_cmd",
    "napcompose.cli.cp_cmd",
    "napcompose.cli.volumes_cmd",
    "napcompose.cli.inspect_cmd",
    "napcompose.cli.events_cmd",
    "napcompose.cli.ls_cmd",
    "napcompose.cli.version_cmd",
    "napcompose.cli.run_cmd",
    "napcompose.cli.exec_cmd",
    "napcompose.cli.rolling_cmd",
    "napcompose.cli.config_cmd",
    "napcompose.cli.build_cmd",
    "napcompose.cli.pull_cmd",
    "napcompose.cli.images_cmd",
    "napcompose.cli.hosts_cmd",
    "napcompose.cli.host_cmd",
    "napcompose.cli.graph_cmd",
    "napcompose.cli.dashboard_cmd",
    "napcompose.cli.ipam_cmd",
    "napcompose.cli.network_cmd",
    "napcompose.cli.lab_cmd",
    "napcompose.cli.doctor_cmd",
    "napcompose.cli.cluster_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors flow through one path."""

    error_hints = ()  # (start of argparse's message, what to say instead): a parser sets its own

    def error(self, message):
        for start, say in self.error_hints:
            if message.startswith(start):
                message = say(message)
        raise UsageError(f"{self.prog}: {message}")


# Commands that ask every host at once as soon as they start: their TCP connections begin with the
# process, before the command modules and the SSH and Docker libraries load.
_EARLY_COMMANDS = frozenset({"ps"})


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The whole command line; with ``argv``, only as much of it as running ``argv`` needs: the
    command modules are registered in order until one gives ``argv``'s command (``ps`` and ``up``
    need the first alone), so a command does not import every other command's module."""
    import importlib

    parser = _global_parser()
    word = None if argv is None else _command_word(parser, argv)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
        if word is not None and word in sub.choices:
            break
    return parser


def _global_parser() -> argparse.ArgumentParser:
    """The command line's options that come before the command."""
    parser = _Parser(
        prog="nap-compose",
        description="docker-compose for a cluster of Docker hosts on one flat layer-2 network.",
    )
    parser.add_argument("--version", action="version", version=f"nap-compose {__version__}")
    parser.add_argument("-f", "--file", dest="files", action="append", default=None, metavar="FILE",
                        help="compose file (repeatable; later files override earlier ones)")
    parser.add_argument("-p", "--project-name", metavar="NAME", help="project name (default: directory name)")
    parser.add_argument("--project-directory", metavar="DIR", help="project directory (default: the first file's)")
    parser.add_argument("--profile", dest="profiles", action="append", default=None, metavar="PROFILE",
                        help="enable services of this profile (repeatable; default: $COMPOSE_PROFILES)")
    parser.add_argument("--env-file", metavar="FILE", help="environment file (default: .env in the project directory)")
    parser.add_argument("--cluster", metavar="FILE", help="cluster file (default: $NAP_CLUSTER, then ./nap-cluster.yml)")
    parser.add_argument("--accept-new-host-keys", action="store_true",
                        help="trust and record SSH host keys seen for the first time (changed keys are still refused)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def _command_word(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Optional[str]:
    """The command ``argv`` names after the global options, or None when that is not plain (help,
    version, a value missing): then every command module is registered, as for ``--help``."""
    at = _command_at(parser, argv)
    return None if at is None else argv[at]


def _command_at(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Optional[int]:
    """Where ``_command_word``'s command stands in ``argv``, or None."""
    valued = {option for action in parser._actions if action.nargs != 0 for option in action.option_strings}
    at = 0
    while at < len(argv):
        word = argv[at]
        if word in ("-h", "--help", "--version"):
            return None
        if word == "--":
            return at + 1 if at + 1 < len(argv) else None
        if not word.startswith("-"):
            return at
        if word in valued:
            at += 1
            if at >= len(argv):
                return None
        at += 1
    return None


def _begin_connecting(argv: Sequence[str], environ: Mapping[str, str], cwd: str):
    """For a command of ``_EARLY_COMMANDS``: the TCP connections to its cluster's SSH hosts, begun
    now (early_tcp.EarlyConnections), else None. Whatever is wrong with the command line or the
    cluster file is left to the command, which reports it in its usual order (the compose file's
    errors first)."""
    parser = _global_parser()
    at = _command_at(parser, argv)
    if at is None or argv[at] not in _EARLY_COMMANDS or {"-h", "--help"} & set(argv[at:]):
        return None
    try:
        options, _ = parser.parse_known_args(list(argv[:at]))
    except (UsageError, SystemExit):
        return None
    import yaml

    from napcompose.cli.common import cluster_file_of
    from napcompose.adapters.early_tcp import EarlyConnections, targets_of_cluster_file

    try:
        with open(cluster_file_of(options.cluster, environ, cwd), encoding="utf-8") as f:
            raw = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    targets = targets_of_cluster_file(raw)
    return EarlyConnections(targets) if targets else None


def main(argv: Optional[Sequence[str]] = None, *, stdout: Optional[TextIO] = None,
         stderr: Optional[TextIO] = None, environ: Optional[Mapping[str, str]] = None,
         cwd: Optional[str] = None, wiring: Optional[Wiring] = None,
         stdin: Optional[TextIO] = None) -> int:
    """Run one nap-compose command; return its exit status (an ExitStatus member's value)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    stdin = stdin or sys.stdin
    environ = dict(os.environ if environ is None else environ)
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    early = None
    if wiring is None:
        early = _begin_connecting(argv, environ, cwd or os.getcwd())
        wiring = Wiring()
        wiring.early = early
    try:
        parser = build_parser(argv)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version print and exit 0
            return int(exc.code or ExitStatus.OK)
        if "func" not in vars(args):
            parser.print_help(stdout)
            return int(ExitStatus.USAGE if not argv else ExitStatus.OK)
        ctx = Context(args=args, stdout=stdout, stderr=stderr, environ=environ,
                      cwd=cwd or os.getcwd(), wiring=wiring, stdin=stdin,
                      argv=tuple(argv))
        try:
            status = int(args.func(args, ctx) or 0)
        except BaseException:
            ctx.close()
            raise
        problem = ctx.close()
        if problem is not None:
            raise problem
        return status
    except NapComposeError as exc:
        if debug:
            traceback.print_exc(file=stderr)
        stderr.write(f"ERROR: {exc}\n")
        return int(exc.exit_status)
    except KeyboardInterrupt:
        stderr.write("Aborted.\n")
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`nap-compose ps | head`): stop quietly, as other Unix tools do.
        _silence_stdout()
        return int(ExitStatus.BROKEN_PIPE)
    finally:
        if early is not None:  # those nobody took (the command failed before asking a host)
            early.close()


def run() -> None:
    """The ``nap-compose`` program (and ``python -m napcompose``): ``main``, then an exit that skips
    the interpreter's teardown.

    Tearing the interpreter down (clearing the hundreds of modules docker-py, paramiko and the
    command loaded, with garbage collections over all they hold) took a tenth of a second after every
    command had done its work: a share of every short command and of each ``up`` before the shell
    has it back. What the interpreter does at exit before that teardown is done here, in its order:
    threading's exit hooks and the wait for every thread that is not a daemon, the atexit functions,
    the standard streams flushed. An interpreter without those hooks exits the usual way; so does an
    exception ``main`` lets through (its traceback printed as always).
    """
    status = main()
    finish_threads = getattr(threading, "_shutdown", None)
    run_atexit = getattr(atexit, "_run_exitfuncs", None)
    if finish_threads is None or run_atexit is None:
        sys.exit(status)
    finish_threads()
    run_atexit()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a stream closed: as the teardown would
            if stream is sys.stdout:
                _silence_stdout()
    os._exit(status)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
