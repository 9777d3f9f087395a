"""``nap-compose config``: validate the compose files and print the normalised project."""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.cli.common import load_project


def register(subparsers):
    parser = subparsers.add_parser("config", help="validate the compose files and print the resolved project")
    parser.add_argument("-q", "--quiet", action="store_true", help="only validate; print nothing")
    parser.add_argument("--services", action="store_true", help="print the service names in start order")
    parser.add_argument("--profiles", dest="list_profiles", action="store_true",
                        help="print every profile the compose files name, active or not")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format")
    parser.set_defaults(func=run)


def run(args, ctx) -> int:
    from napcompose.config import render
    from napcompose.graph import start_waves

    project = load_project(ctx)
    waves = start_waves(project)  # also refuses dependency cycles
    if args.quiet:
        return ExitStatus.OK
    if args.list_profiles:
        for profile in project.profiles:
            ctx.out(profile)
        return ExitStatus.OK
    if args.services:
        for wave in waves:
            for name in wave:
                ctx.out(name)
        return ExitStatus.OK
    ctx.stdout.write(render(project, args.format))
    return ExitStatus.OK
