"""Reading known_hosts with marker lines: CA lines skipped, revoked keys collected, bad lines named."""

import paramiko
import pytest

from napcompose.adapters.known_hosts import is_revoked, load_known_hosts
from napcompose.errors import NapComposeError

KEY_A = paramiko.RSAKey.generate(1024)
KEY_B = paramiko.RSAKey.generate(1024)


def line(names, key):
    return f"{names} {key.get_name()} {key.get_base64()}"


def test_ca_lines_are_skipped_revoked_keys_collected_and_plain_entries_kept(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(["# a comment", "@cert-authority *.example " + line("", KEY_B).strip(),
                               line("node1,198.18.0.11", KEY_A), "@revoked " + line("*", KEY_B), ""]))
    keys = paramiko.HostKeys()
    revoked = load_known_hosts(str(path), keys)
    assert keys.lookup("node1")["ssh-rsa"] == KEY_A and keys.lookup("198.18.0.11")["ssh-rsa"] == KEY_A
    assert keys.lookup("node2") is None
    assert is_revoked(KEY_B, revoked) and not is_revoked(KEY_A, revoked)


def test_paramiko_alone_stops_at_a_ca_line(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text("@cert-authority *.example " + line("", KEY_B).strip() + "\n")
    with pytest.raises(Exception):
        paramiko.HostKeys(str(path))  # why the file is read here
    assert load_known_hosts(str(path), paramiko.HostKeys()) == frozenset()


def test_a_line_that_does_not_parse_names_the_file_and_line(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(line("node1", KEY_A) + "\nnode2 ssh-rsa not-base64!!\n")
    with pytest.raises(NapComposeError) as err:
        load_known_hosts(str(path), paramiko.HostKeys())
    assert str(err.value).startswith(f"{path}:2: not a known_hosts line")
