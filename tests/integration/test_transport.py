"""SSH and Docker transport on the lab: host keys are checked, one connection carries Docker and SFTP."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import socket
import subprocess

import paramiko
import pytest

from napcompose.adapters.file_ops import SftpTree
from napcompose.adapters.ssh import HostConnections, fingerprint
from napcompose.cli import main
from napcompose.errors import HostError, HostKeyError


def _with_ssh(cluster, **changes):
    hosts = tuple(dataclasses.replace(h, ssh=dataclasses.replace(h.ssh, **changes)) for h in cluster.hosts)
    return dataclasses.replace(cluster, hosts=hosts)


def _host_key(lab, host_name):
    path = os.path.join(lab.dir, host_name, "ssh_host_ed25519_key")
    return paramiko.Ed25519Key.from_private_key_file(path)


def test_every_dockerd_answers_over_ssh_with_host_key_checking(lab):
    with HostConnections(lab.cluster) as connections:
        assert connections.accept_new_host_keys is False
        for host in lab.cluster.hosts:
            client = connections.docker(host.name)
            assert client.ping() is True
            info = client.info()
            assert info["Name"]  # a real daemon answered
            assert client.version()["ApiVersion"] == "1.41"
            ssh = connections.ssh(host.name)
            assert ssh.get_transport().getpeername()[0] == host.address
            assert ssh._policy.accept_new is False  # unknown keys are refused
            assert ssh.get_host_keys().lookup(host.address) is not None


def test_docker_and_sftp_share_one_ssh_connection(lab, tmp_path):
    host = lab.cluster.hosts[1].name
    # The host's own state directory: the one place of the lab DIR both the operator and the host see.
    path = os.path.join(lab.dir, host, "transport-probe.txt")
    with open(path, "w") as fh:
        fh.write("a long first content that the write must cut short\n")
    inode = os.stat(path).st_ino
    try:
        with HostConnections(lab.cluster) as connections:
            connections.docker(host).ping()
            transport = connections.ssh(host).get_transport()
            files = connections.files(host)
            files.write_in_place(path, b"short\n")
            assert files.read(path) == b"short\n"
            assert connections.ssh(host).get_transport() is transport
        assert os.stat(path).st_ino == inode
        with open(path, "rb") as fh:
            assert fh.read() == b"short\n"
    finally:
        os.unlink(path)


def test_docker_calls_on_many_urls_reuse_their_ssh_channels(lab):
    # Each channel runs `docker system dial-stdio` on the host; opening one per API URL made every
    # call on a new container id pay that start-up again.
    host = lab.cluster.hosts[0].name
    with HostConnections(lab.cluster) as connections:
        client = connections.docker(host)
        client.ping()
        transport = connections.ssh(host).get_transport()
        opened = []
        real_open = transport.open_session

        def counting_open(*args, **kwargs):
            opened.append(1)
            return real_open(*args, **kwargs)

        transport.open_session = counting_open
        for n in range(12):
            assert client.api.containers(all=True, filters={"label": f"probe-{n}=x"}) == []
            with pytest.raises(Exception):
                client.api.inspect_container(f"no-such-container-{n}")
        assert len(opened) <= 1, f"{len(opened)} channels opened for 24 sequential calls"


def test_missing_file_over_sftp_names_host_and_path(lab):
    host = lab.cluster.hosts[0].name
    missing = os.path.join(lab.dir, "no-such-file")
    with HostConnections(lab.cluster) as connections:
        with pytest.raises(HostError) as err:
            connections.files(host).write_in_place(missing, b"x")
    assert str(err.value).startswith(f"{host}: writing {missing} over SFTP: ")
    assert not os.path.exists(missing)


def test_a_session_whose_channel_ended_fails_as_the_host_naming_the_path(lab):
    # paramiko raises a bare EOFError when a channel ends under a write (the server closed it, or
    # the connection died): it must come back as the host's failure, which the once-more rule reads.
    host = lab.cluster.hosts[0].name
    path = os.path.join(lab.dir, "ended-channel-probe")
    with HostConnections(lab.cluster) as connections:
        sftp = connections.ssh(host).open_sftp()
        sftp.get_channel().shutdown_write()  # the same end paramiko meets when the peer closes
        with pytest.raises(HostError) as err:
            SftpTree(host, lambda: sftp).put(path, b"x" * 100_000, 0o644)
    assert str(err.value).startswith(f"{host}: writing {path} over SFTP: ")
    assert isinstance(err.value.__cause__, EOFError)


def test_a_bulk_put_whose_connection_dies_midway_is_sent_again_whole_on_a_fresh_one(lab):
    host = lab.cluster.hosts[1].name
    directory = os.path.join(lab.dir, host, "bulk-put-probe")
    os.makedirs(directory, exist_ok=True)
    try:
        with HostConnections(lab.cluster) as connections:
            first = connections.ssh(host).get_transport()
            cut = []

            def content(n):
                def load():
                    if n == 5 and not cut:  # the connection dies in the middle of the batch
                        cut.append(n)
                        first.sock.shutdown(socket.SHUT_WR)  # sends fail at once, reads see the end later
                    return f"file {n}\n".encode()
                return load

            files = connections.files(host)
            files.put_many([(os.path.join(directory, f"f{n:02d}"), content(n), 0o644) for n in range(40)])
            assert cut == [5]
            assert connections.ssh(host).get_transport() is not first
        assert sorted(os.listdir(directory)) == [f"f{n:02d}" for n in range(40)]
        for n in range(40):
            with open(os.path.join(directory, f"f{n:02d}")) as fh:
                assert fh.read() == f"file {n}\n"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _sessions_counted(connections, host: str) -> list:
    """A list that grows by one at each session channel (a command, an SFTP session) opened to ``host``."""
    opened = []
    transport = connections.ssh(host).get_transport()
    real_open = transport.open_session
    transport.open_session = lambda *a, **k: opened.append(1) or real_open(*a, **k)
    return opened


def test_a_directory_s_files_go_in_one_command_in_place_and_a_bad_one_names_the_host_and_path(lab):
    host = lab.cluster.hosts[2].name
    directory = os.path.join(lab.dir, host, "staged-put-probe")
    os.makedirs(directory, exist_ok=True)
    try:
        with open(os.path.join(directory, "a.hosts"), "wb") as fh:
            fh.write(b"the old text, longer than the new\n")
        inode = os.stat(os.path.join(directory, "a.hosts")).st_ino
        open(os.path.join(directory, "a@old.sum"), "wb").close()
        os.makedirs(os.path.join(directory, "in-the-way.hosts"))
        with HostConnections(lab.cluster) as connections:
            files = connections.files(host)
            opened = _sessions_counted(connections, host)
            files.put_stages(directory, [[(f"f{n:02d}.hosts", lambda n=n: f"file {n}\n".encode()) for n in range(30)]
                                         + [("a.hosts", lambda: b"new\n")], [("a@new.sum", lambda: b"")]],
                             0o644, ["a@old.sum"])
            assert len(opened) == 1  # one command for 32 files and a removal
            with pytest.raises(HostError) as err:
                files.put_stages(directory, [[("in-the-way.hosts", lambda: b"x")]], 0o644)
        assert str(err.value).startswith(f"{host}: writing in {directory}: {directory}/in-the-way.hosts: ")
        with open(os.path.join(directory, "a.hosts"), "rb") as fh:
            assert fh.read() == b"new\n"
        assert os.stat(os.path.join(directory, "a.hosts")).st_ino == inode  # in place: the resolver's rule
        assert sorted(os.listdir(directory)) == sorted([f"f{n:02d}.hosts" for n in range(30)]
                                                       + ["a.hosts", "a@new.sum", "in-the-way.hosts"])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_command_whose_connection_ends_under_it_runs_again_on_a_fresh_one(lab):
    # The command kills the sshd process that serves its connection the first time it runs: paramiko
    # then sees the channel close without an exit status. That is the host's failure, and the
    # once-more rule runs the command again on a fresh connection.
    from napcompose.adapters.host_commands import run_command

    host = lab.cluster.hosts[0].name
    marker = os.path.join(lab.dir, host, "command-ended-probe")
    if os.path.exists(marker):
        os.unlink(marker)
    try:
        with HostConnections(lab.cluster) as connections:
            first = connections.ssh(host).get_transport()
            status, out, _ = run_command(connections, host, [
                "sh", "-c", 'if [ -e "$0" ]; then echo again; else touch "$0"; kill -9 "$PPID"; sleep 5; fi', marker])
            assert (status, out) == (0, "again\n")
            assert connections.ssh(host).get_transport() is not first
            with pytest.raises(HostError) as err:  # a command killed by a signal, the connection alive
                run_command(connections, host, ["sh", "-c", "kill -9 $$"])
        assert "ended without an exit status" in str(err.value) and str(err.value).startswith(f"{host}: ")
    finally:
        if os.path.exists(marker):
            os.unlink(marker)


def test_many_files_are_read_and_rewritten_in_place_in_one_command_each(lab):
    host = lab.cluster.hosts[1].name
    directory = os.path.join(lab.dir, host, "many-files-probe")
    os.makedirs(directory, exist_ok=True)
    try:
        paths = [os.path.join(directory, f"h{n:02d}") for n in range(25)]
        for n, path in enumerate(paths):
            with open(path, "wb") as fh:
                fh.write(f"127.0.0.1\tlocalhost\n# file {n}, longer than what replaces it\n".encode())
        inodes = [os.stat(p).st_ino for p in paths]
        with HostConnections(lab.cluster) as connections:
            files = connections.files(host)
            opened = _sessions_counted(connections, host)
            got = files.read_many(paths + [os.path.join(directory, "absent")], 1024)
            assert len(opened) == 1
            assert got[3] == b"127.0.0.1\tlocalhost\n# file 3, longer than what replaces it\n"
            assert str(got[-1]) == f"{host}: reading {directory}/absent: No such file or directory"
            failed = files.write_many_in_place([(p, f"new {n}\n".encode()) for n, p in enumerate(paths)]
                                               + [(os.path.join(directory, "absent"), b"x")])
            assert len(opened) == 2 and failed[:-1] == [None] * 25 and isinstance(failed[-1], HostError)
        for n, path in enumerate(paths):
            with open(path, "rb") as fh:
                assert fh.read() == f"new {n}\n".encode()
        assert [os.stat(p).st_ino for p in paths] == inodes  # in place: the containers' bind mounts see it
        assert not os.path.exists(os.path.join(directory, "absent"))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_an_unknown_host_key_is_refused(lab, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    cluster = _with_ssh(lab.cluster, known_hosts=str(known))
    host = cluster.hosts[0]
    with HostConnections(cluster) as connections:
        with pytest.raises(HostKeyError) as err:
            connections.docker(host.name).ping()
    expected = fingerprint(_host_key(lab, host.name))
    assert str(err.value) == (
        f"{host.name}: host key of {host.address} is unknown ({expected}): it is not in {known}; "
        "check the fingerprint and add it there, or pass --accept-new-host-keys")
    assert known.read_text() == ""


def test_accepting_a_new_key_records_it_and_a_changed_key_is_always_refused(lab, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    cluster = _with_ssh(lab.cluster, known_hosts=str(known))
    host = cluster.hosts[0]
    real = _host_key(lab, host.name)
    with HostConnections(cluster, accept_new_host_keys=True) as connections:
        assert connections.docker(host.name).ping() is True
    assert known.read_text() == f"{host.address} ssh-ed25519 {real.get_base64()}\n"

    impostor = paramiko.Ed25519Key.from_private_key_file(os.path.join(lab.dir, "id_ed25519"))
    known.write_text(f"{host.address} ssh-ed25519 {impostor.get_base64()}\n")
    with HostConnections(cluster, accept_new_host_keys=True) as connections:
        with pytest.raises(HostKeyError) as err:
            connections.ssh(host.name)
    message = str(err.value)
    assert message.startswith(f"{host.name}: host key of {host.address} CHANGED: {known} has "
                              f"{fingerprint(impostor)}, the server offered {fingerprint(real)}; refusing")
    assert known.read_text() == f"{host.address} ssh-ed25519 {impostor.get_base64()}\n"


def test_marker_lines_are_read_and_a_revoked_key_is_refused_even_when_listed(lab, tmp_path):
    known = tmp_path / "known_hosts"
    cluster = _with_ssh(lab.cluster, known_hosts=str(known))
    host = cluster.hosts[0]
    real = _host_key(lab, host.name)
    ca = paramiko.Ed25519Key.from_private_key_file(os.path.join(lab.dir, "id_ed25519"))
    listed = f"{host.address} ssh-ed25519 {real.get_base64()}\n"
    # a CA line (which an operator's known_hosts holds for other machines) no longer stops the command
    known.write_text(f"@cert-authority *.example.org ssh-ed25519 {ca.get_base64()}\n" + listed)
    with HostConnections(cluster) as connections:
        assert connections.docker(host.name).ping() is True
    # a revoked key is refused, listed or new, with --accept-new-host-keys too, and never recorded
    for text in (listed + f"@revoked * ssh-ed25519 {real.get_base64()}\n",
                 f"@revoked {host.address} ssh-ed25519 {real.get_base64()}\n"):
        known.write_text(text)
        with HostConnections(cluster, accept_new_host_keys=True) as connections:
            with pytest.raises(HostKeyError) as err:
                connections.ssh(host.name)
        assert str(err.value) == (f"{host.name}: host key of {host.address} is revoked: {known} marks "
                                  f"{fingerprint(real)} @revoked; refusing to connect")
        assert known.read_text() == text


def test_a_key_the_host_does_not_authorise_is_a_host_error(lab, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    cluster = _with_ssh(lab.cluster, key_file=str(key))
    host = cluster.hosts[2]
    with HostConnections(cluster) as connections:
        with pytest.raises(HostError) as err:
            connections.docker(host.name).ping()
    assert not isinstance(err.value, HostKeyError)
    assert str(err.value) == f"{host.name}: SSH connection to root@{host.address}:22: Authentication failed"


def test_network_create_reports_present_then_drift_without_touching_the_network(lab, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert main(["--cluster", lab.cluster_file, "network", "create"], stdout=out, stderr=err) == 0
    lines = out.getvalue().splitlines()
    # the network, the resolvers, then the bridge filters (isolation is on unless the file says not)
    assert [line.split()[:2] for line in lines] == [[h.name, "present"] for h in lab.cluster.hosts] + [
        [h.name, "resolver"] for h in lab.cluster.hosts] + [
        [h.name, "filter"] for h in lab.cluster.hosts if lab.cluster.network.isolation]

    before = subprocess.run(["docker", "network", "inspect", "-f", "{{.Id}}", "nap"],
                            env={**os.environ, "DOCKER_HOST": f"unix://{lab.dir}/node1/docker.sock"},
                            capture_output=True, text=True, check=True).stdout
    text = open(lab.cluster_file).read().replace("mtu: 1500", "mtu: 1400")
    # beside the lab's own file: its key, known_hosts and store certificates are named relative to it
    drifted = os.path.join(lab.dir, f"drifted-{os.getpid()}.yml")
    with open(drifted, "w") as fh:
        fh.write(text)
    out, err = io.StringIO(), io.StringIO()
    try:
        status = main(["--cluster", drifted, "network", "create"], stdout=out, stderr=err)
    finally:
        os.remove(drifted)
    assert status == 1, err.getvalue()
    report = out.getvalue()
    for host in lab.cluster.hosts:
        assert f"{host.name}  drift" in report
    assert report.count("option com.docker.network.driver.mtu: want 1400, found 1500") == len(lab.cluster.hosts)
    assert err.getvalue() == (f"ERROR: network nap: {len(lab.cluster.hosts)} of {len(lab.cluster.hosts)} host(s) "
                              f"failed or differ: {', '.join(h.name for h in lab.cluster.hosts)}\n")
    after = subprocess.run(["docker", "network", "inspect", "-f", "{{.Id}}", "nap"],
                           env={**os.environ, "DOCKER_HOST": f"unix://{lab.dir}/node1/docker.sock"},
                           capture_output=True, text=True, check=True).stdout
    assert after == before


def test_a_port_nobody_listens_on_is_a_host_error_naming_the_target(lab):
    cluster = _with_ssh(lab.cluster, port=2222)
    host = dataclasses.replace(cluster.hosts[0], docker_url=f"ssh://{cluster.hosts[0].address}")
    cluster = dataclasses.replace(cluster, hosts=(host,))
    with HostConnections(cluster, connect_timeout=5) as connections:
        with pytest.raises(HostError) as err:
            connections.docker(host.name).ping()
    assert str(err.value) == f"{host.name}: SSH connection to root@{host.address}:2222: Connection refused"


def test_a_unix_docker_url_uses_the_local_socket_and_local_files(lab, tmp_path):
    sock = os.path.join(lab.dir, "node2", "docker.sock")
    host = dataclasses.replace(lab.cluster.hosts[1], docker_url=f"unix://{sock}")
    cluster = dataclasses.replace(lab.cluster, hosts=(host,))
    probe = tmp_path / "hosts"
    probe.write_text("127.0.0.1 localhost\n# a longer tail that must go\n")
    inode = probe.stat().st_ino
    with HostConnections(cluster) as connections:
        assert connections.docker(host.name).ping() is True
        files = connections.files(host.name)
        files.write_in_place(str(probe), b"127.0.0.1 localhost\n")
        assert files.read(str(probe)) == b"127.0.0.1 localhost\n"
        with pytest.raises(HostError) as err:
            files.read(str(tmp_path / "absent"))
    assert probe.stat().st_ino == inode
    assert str(err.value) == f"{host.name}: reading {tmp_path / 'absent'}: No such file or directory"


def _with_socket_paths(cluster, lab):
    hosts = tuple(dataclasses.replace(h, docker_url=f"ssh://root@{h.address}{lab.dir}/{h.name}/docker.sock")
                  for h in cluster.hosts)
    return dataclasses.replace(cluster, hosts=hosts)


def test_docker_is_reached_over_a_stream_local_channel_to_the_named_socket(lab):
    cluster = _with_socket_paths(lab.cluster, lab)
    with HostConnections(cluster) as connections:
        for host in cluster.hosts:
            client = connections.docker(host.name)
            assert client.info()["Name"]  # a real daemon answered, through the socket in the URL
            assert connections.docker_route(host.name) == \
                f"direct-streamlocal@openssh.com {lab.dir}/{host.name}/docker.sock"
            # every further HTTP connection is another stream-local channel on the same SSH connection
            transport = connections.ssh(host.name).get_transport()
            assert [len(client.api.containers(all=True, filters={"label": "no-such-label"}))
                    for _ in range(3)] == [0, 0, 0]
            assert connections.ssh(host.name).get_transport() is transport


def test_a_refused_stream_local_open_falls_back_to_dial_stdio_without_noise(lab, capfd):
    # A URL that names no socket means Docker's default path, which does not exist on a lab host, so
    # sshd refuses the channel and the connection runs `docker system dial-stdio` instead.
    host = dataclasses.replace(lab.cluster.hosts[0], docker_url=f"ssh://root@{lab.cluster.hosts[0].address}")
    cluster = dataclasses.replace(lab.cluster, hosts=(host,))
    assert not os.path.exists("/var/run/docker.sock")
    with HostConnections(cluster) as connections:
        assert connections.docker(host.name).ping() is True
        assert connections.docker_route(host.name) == (
            "docker system dial-stdio (direct-streamlocal@openssh.com refused: Connect failed)")
        assert connections.docker(host.name).ping() is True
    captured = capfd.readouterr()
    assert "open FAILED" not in captured.err + captured.out


def test_a_socket_path_that_does_not_exist_falls_back_too(lab):
    host = dataclasses.replace(lab.cluster.hosts[1],
                               docker_url=f"ssh://root@{lab.cluster.hosts[1].address}/no/such/docker.sock")
    cluster = dataclasses.replace(lab.cluster, hosts=(host,))
    with HostConnections(cluster) as connections:
        assert connections.docker(host.name).version()["ApiVersion"] == "1.41"
        assert connections.docker_route(host.name).startswith("docker system dial-stdio (")


def test_stream_local_keeps_the_host_key_check(lab, tmp_path):
    other = tmp_path / "known_hosts"
    other.write_text(f"{lab.cluster.hosts[1].address} {_host_key(lab, 'node1').get_name()} "
                     f"{_host_key(lab, 'node1').get_base64()}\n")
    cluster = _with_socket_paths(_with_ssh(lab.cluster, known_hosts=str(other)), lab)
    with HostConnections(cluster) as connections:
        with pytest.raises(HostKeyError) as err:
            connections.docker(cluster.hosts[1].name).ping()
    assert "CHANGED" in str(err.value)
