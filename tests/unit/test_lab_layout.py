"""The lab's layout: addresses and names follow from (name, subnet, hosts, dir); bad values are refused."""

import os

import pytest

from napcompose.errors import UsageError
from napcompose.lab.layout import make_layout


def test_layout_of_a_three_host_lab():
    layout = make_layout("nap", "198.18.0.0/24", 3, "/tmp/lab")
    assert (layout.router, layout.operator, layout.pool, layout.host_blocks) == (
        "198.18.0.1", "198.18.0.254", "198.18.0.160-198.18.0.249", "198.18.0.32-198.18.0.159")
    assert [(h.name, h.address, h.netns, h.veth) for h in layout.hosts] == [
        ("node1", "198.18.0.11", "nap-node1", "nap-n1"),
        ("node2", "198.18.0.12", "nap-node2", "nap-n2"),
        ("node3", "198.18.0.13", "nap-node3", "nap-n3")]
    assert layout.hosts[0].docker_sock == "/tmp/lab/node1/docker.sock"
    assert (layout.switch, layout.router_netns, layout.router_veth) == ("nap-sw", "nap-router", "nap-rt")
    assert layout.etcd_url == "etcd://198.18.0.254:2379"
    assert layout.cluster_file == "/tmp/lab/nap-cluster.yml"


def test_two_labs_with_different_names_share_no_name():
    a = make_layout("nap", "198.18.0.0/24", 8, "/tmp/a")
    b = make_layout("naptest", "198.18.1.0/24", 8, "/tmp/b")
    names_a = set(a.netns_names) | {a.switch, a.router_veth} | {h.veth for h in a.hosts}
    names_b = set(b.netns_names) | {b.switch, b.router_veth} | {h.veth for h in b.hosts}
    assert not names_a & names_b
    assert max(len(n) for n in names_b - set(b.netns_names)) <= 15  # Linux interface names


@pytest.mark.parametrize("args,message", [
    (("Nap", "198.18.0.0/24", 3, "/tmp/l"), "lab name 'Nap' must be 1 to 8 lower-case letters or digits, "
                                              "starting with a letter"),
    (("napnapnap", "198.18.0.0/24", 3, "/tmp/l"), "lab name 'napnapnap' must be 1 to 8 lower-case letters or "
                                                   "digits, starting with a letter"),
    (("nap", "198.18.0.0/24", 0, "/tmp/l"), "--hosts 0: a lab has 1 to 8 hosts"),
    (("nap", "198.18.0.0/24", 9, "/tmp/l"), "--hosts 9: a lab has 1 to 8 hosts"),
    (("nap", "198.18.0.5/24", 3, "/tmp/l"), "--subnet 198.18.0.5/24: not an IPv4 network in CIDR form "
                                             "(e.g. 198.18.0.0/24)"),
    (("nap", "198.18.0.0/25", 3, "/tmp/l"), "--subnet 198.18.0.0/25: the lab needs at least a /24 (router .1, "
                                             "hosts .11-.18, host blocks .32-.159, pool .160-.249, operator .254)"),
])
def test_bad_lab_parameters(args, message):
    with pytest.raises(UsageError) as err:
        make_layout(*args)
    assert str(err.value) == message


def test_a_directory_too_long_for_unix_sockets():
    directory = "/tmp/" + "d" * 80
    with pytest.raises(UsageError) as err:
        make_layout("nap", "198.18.0.0/24", 3, directory)
    assert str(err.value).startswith(f"--dir {directory}: too long for the daemons' unix sockets (")
    assert str(err.value).endswith("at most 107); use a shorter path")


@pytest.mark.parametrize("argv,status,message", [
    (["lab", "up", "--hosts", "9"], 2, "ERROR: --hosts 9: a lab has 1 to 8 hosts\n"),
    (["lab", "up", "--name", "Bad"], 2,
     "ERROR: lab name 'Bad' must be 1 to 8 lower-case letters or digits, starting with a letter\n"),
    (["lab", "up", "--subnet", "nonsense"], 2,
     "ERROR: --subnet nonsense: not an IPv4 network in CIDR form (e.g. 198.18.0.0/24)\n"),
    (["lab", "down"], 9, "ERROR: no lab in {dir} (no state.json)\n"),
    (["lab", "status"], 9, "ERROR: no lab in {dir} (no state.json)\n"),
    (["lab", "exec", "node1", "--", "true"], 9, "ERROR: no lab in {dir} (no state.json)\n"),
])
def test_lab_commands_refuse_bad_input_and_create_nothing(tmp_path, argv, status, message):
    import io

    from napcompose.cli import main

    directory = tmp_path / "lab"
    out, err = io.StringIO(), io.StringIO()
    argv = argv[:2] + ["--dir", str(directory)] + argv[2:]
    assert main(argv, stdout=out, stderr=err, cwd=str(tmp_path)) == status
    assert err.getvalue() == message.format(dir=directory)
    assert not directory.exists()


def test_an_eight_host_lab_gives_every_host_a_block_beside_the_pool():
    from napcompose.cluster import parse_cluster, render_cluster
    from napcompose.ipam.blocks import candidates
    from napcompose.lab.cluster_file import lab_cluster

    layout = make_layout("nap", "198.18.0.0/24", 8, "/tmp/lab")
    cluster = parse_cluster(render_cluster(lab_cluster(layout)), "/tmp/lab/nap-cluster.yml")
    assert cluster.network.reserved == ("198.18.0.254",)  # the operator
    # as on real hosts, the names resolver runs on every lab host (each writes its own /var/lib/nap-compose)
    assert cluster.network.resolver is not None and "resolver: false" not in render_cluster(lab_cluster(layout))
    assert candidates(cluster.network, cluster.hosts) == [f"198.18.0.{16 * i}/28" for i in range(2, 10)]


def test_a_host_view_hides_the_operators_places_and_binds_back_its_own_state():
    from napcompose.lab.mountns import host_view

    layout = make_layout("nap", "198.18.0.0/24", 2, "/tmp/lab")
    view = host_view(layout, layout.hosts[1], "/srv/checkout")
    # /tmp/lab is inside /tmp: one tmpfs over /tmp hides it.
    assert view.hide == ("/tmp", "/home", "/root", "/var/tmp", "/srv/checkout")
    assert view.binds == (("/tmp/lab/node2", "/tmp/lab/node2"),
                          ("/tmp/lab/node2/var-lib-nap-compose", "/var/lib/nap-compose"))
    assert layout.hosts[1].mount_ns == "/tmp/lab/mntns/node2"
    elsewhere = make_layout("nap", "198.18.0.0/24", 1, "/srv/labs/one")
    assert host_view(elsewhere, elsewhere.hosts[0], "/work/main").hide == (
        "/tmp", "/home", "/root", "/var/tmp", "/work/main", "/srv/labs/one")


def test_a_host_view_hides_every_top_level_directory_but_the_systems():
    from napcompose.lab.mountns import host_view

    layout = make_layout("nap", "198.18.0.0/24", 1, "/tmp/lab")
    # A CI runner that clones into /check: the checkout is hidden by hiding /check itself.
    top = ("/bin", "/boot", "/check", "/dev", "/etc", "/home", "/opt", "/proc", "/root", "/run", "/srv",
           "/sys", "/tmp", "/usr", "/var", "/work")
    view = host_view(layout, layout.hosts[0], "/check/work/main", top)
    assert view.hide == ("/opt", "/srv", "/tmp", "/boot", "/home", "/root", "/work", "/check", "/var/tmp")
    assert not {"/usr", "/etc", "/var", "/bin", "/proc", "/sys", "/dev", "/run"} & set(view.hide)


def test_the_checkout_is_the_directory_above_the_package():
    import napcompose
    from napcompose.lab.mountns import checkout_dir

    assert os.path.isdir(os.path.join(checkout_dir(), "napcompose"))
    assert os.path.dirname(os.path.abspath(napcompose.__file__)) == os.path.join(checkout_dir(), "napcompose")


def test_a_host_view_never_hides_the_root():
    from napcompose.errors import LabError
    from napcompose.lab.mountns import host_view

    layout = make_layout("nap", "198.18.0.0/24", 1, "/tmp/lab")
    with pytest.raises(LabError) as err:
        host_view(layout, layout.hosts[0], "/")
    assert str(err.value) == ("refusing to hide / from lab hosts: the checkout (/) or the lab directory "
                              "(/tmp/lab) is /")
