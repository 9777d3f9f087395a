"""An image for names tests on the lab: busybox and glibc's ``getent`` (busybox has no getent, and only
glibc's resolver reads /etc/hosts and then DNS the way real programs do), made offline like the lab's own."""

from __future__ import annotations

import subprocess

from napcompose.adapters import binary_image
from napcompose.lab.image import find_busybox

GETENT_IMAGE = "nap-lab/getent:latest"


def getent_image() -> binary_image.BinaryImage:
    busybox = find_busybox()
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    links = {f"/bin/{name}": "busybox" for name in applets if name != "busybox"}
    return binary_image.build(
        GETENT_IMAGE, {"/bin/busybox": busybox, "/usr/bin/getent": "/usr/bin/getent"},
        files={"/etc/nsswitch.conf": b"hosts: files dns\n",
               "/etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"},
        symlinks=links)


def put_getent_image(project) -> None:
    """The image on every host of ``project``'s lab (a DeployProject), imported through its Docker API."""
    image = getent_image()
    for host in project.lab.cluster.hosts:
        binary_image.ensure(project.docker(host.name).api, image, host.name)
