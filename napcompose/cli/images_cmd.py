"""``nap-compose images [SERVICE...]``: which image each container of the project runs, host by host.

A registry image shows as the digest the container was created from (``repository@sha256:…``),
the same on every host for one run; a built or loaded image shows its tag. IMAGE ID is the
image's id on that host.
"""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for
from napcompose.cli.ps_view import raise_if_partial


def cmd_images(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    observation = deploy_for(ctx).orchestrator.ps(project.name, services, all=True)
    header = ("CONTAINER", "SERVICE", "HOST", "IMAGE", "IMAGE ID")
    rows = [(c.name, c.replica.service, c.host, c.image or "", (c.image_id or "").replace("sha256:", "")[:12])
            for c in observation.containers if c.replica is not None and c.id]
    if args.quiet:
        for image_id in dict.fromkeys(c.image_id for c in observation.containers if c.image_id):
            ctx.out(image_id)
    else:
        table = [header] + sorted(rows, key=lambda r: (r[1], r[0], r[2]))
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            ctx.out("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    raise_if_partial(observation, "images")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("images", help="list the image (digest for registry images) each container runs, per host")
    p.add_argument("-q", "--quiet", action="store_true", help="only the image ids")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_images)
