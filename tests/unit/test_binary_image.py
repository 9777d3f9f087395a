"""Images made offline from this machine's programs: the program, its libraries, fixed bytes."""

import io
import os
import tarfile

import pytest

from napcompose.adapters import binary_image
from napcompose.errors import ConfigError

GETENT = "/usr/bin/getent"
needs_getent = pytest.mark.skipif(not os.path.exists(GETENT), reason="glibc's getent is not installed")


@needs_getent
def test_a_program_comes_with_the_libraries_it_links_and_the_same_files_give_the_same_digest():
    one = binary_image.build("t/getent:1", {"/usr/bin/getent": GETENT}, files={"/etc/nsswitch.conf": b"hosts: files\n"},
                             symlinks={"/bin/ge": "/usr/bin/getent"})
    two = binary_image.build("t/getent:1", {"/usr/bin/getent": GETENT}, files={"/etc/nsswitch.conf": b"hosts: files\n"},
                             symlinks={"/bin/ge": "/usr/bin/getent"})
    assert one.digest == two.digest and one.tar == two.tar
    names = tarfile.open(fileobj=io.BytesIO(one.tar)).getnames()
    libraries = [path.lstrip("/") for path in binary_image.linked_libraries(GETENT)]
    assert any(path.endswith("libc.so.6") for path in libraries)
    assert set(libraries) <= set(names)
    assert {"usr/bin/getent", "etc/nsswitch.conf", "bin/ge", "tmp", "usr", "usr/bin"} <= set(names)


def test_a_program_that_is_not_installed_is_named():
    with pytest.raises(ConfigError, match=r"/nonexistent/dnsmasq is not installed on this machine "
                                          r"\(needed for the image t/x:1\)"):
        binary_image.build("t/x:1", {"/usr/sbin/dnsmasq": "/nonexistent/dnsmasq"})
