"""The command line registers only the command modules a command needs, and parses it the same."""

import pytest

from napcompose.cli import build_parser
from napcompose.errors import UsageError

SAMPLES = [
    ["ps"],
    ["-p", "shop", "ps", "-a", "--format", "json"],
    ["-pshop", "--cluster=c.yml", "up", "-d", "--scale", "web=3", "web"],
    ["-f", "a.yml", "-f", "b.yml", "--profile", "debug", "down", "-t", "1"],
    ["--cluster", "ps", "lab", "status"],  # "ps" is the cluster file's name here, "lab" the command
    ["--debug", "hosts", "check"],
]


@pytest.mark.parametrize("argv", SAMPLES)
def test_a_command_parses_as_with_every_module_registered(argv):
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_ps_and_up_register_only_what_they_need():
    parser = build_parser(["-p", "shop", "ps"])
    assert parser.parse_args(["up", "-d"]).command == "up"  # the same module
    with pytest.raises(UsageError, match="invalid choice: 'lab'"):
        parser.parse_args(["lab", "status"])


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-p"], [], ["nosuch"]])
def test_help_version_and_unclear_lines_get_every_command(argv):
    assert build_parser(argv).parse_args(["lab", "status"]).command == "lab"
