"""doctor's judging over in-memory facts: each check's ok, warning and failure, with the fix named."""

from napcompose.cluster import parse_cluster
from napcompose.doctor import (HostFacts, Level, Link, MemberHealth, ResolverFacts, StoreFacts, exit_status,
                               judge_host, judge_store)
from napcompose.doctor.verdicts import CHECK_NAMES

CLUSTER = """
network: {subnet: 198.18.0.0/24, router: 198.18.0.1, pools: ["198.18.0.160-198.18.0.249"], mtu: 1500, resolver: false}
store: {url: "etcd3://198.18.0.254:2379"}
ssh: {known_hosts: /etc/nap/known_hosts}
hosts:
  - {name: node1, address: 198.18.0.11}
"""
RESOLVER = CLUSTER.replace("resolver: false}", "resolver: true}")


def cluster(text=CLUSTER):
    return parse_cluster(text, "/etc/nap/nap-cluster.yml")


def healthy(**changes):
    links = (Link("lo", 65536, addresses=("127.0.0.1/8",)),
             Link("eno1", 1500, master="br0"),
             Link("br0", 1500, kind="bridge", addresses=("198.18.0.11/24",)),
             Link("veth12ab", 1500, kind="veth", master="br0"))
    base = dict(host="node1", docker_version="20.10.24+dfsg1", api_version="1.41",
                docker_route="/var/run/docker.sock", links=links,
                netfilter=(("net.bridge.bridge-nf-call-iptables", None), ("net.bridge.bridge-nf-call-ip6tables", None),
                           ("net.bridge.bridge-nf-call-arptables", None)),
                clock_offset_s=0.004, clock_uncertainty_s=0.002, state_dir_checked=True,
                programs=("python3", "nft", "nsenter"), resolver=ResolverFacts(container="running", answered=True))
    base.update(changes)
    return HostFacts(**base)


def by_check(verdicts):
    return {v.check: v for v in verdicts}


def judge(facts, text=CLUSTER):
    c = cluster(text)
    return by_check(judge_host(c, c.hosts[0], facts))


def test_a_healthy_host_passes_every_check_in_order():
    c = cluster(RESOLVER)
    verdicts = judge_host(c, c.hosts[0], healthy())
    assert [v.check for v in verdicts] == [n for n in CHECK_NAMES if not n.startswith(("store", "pool"))]
    assert {v.level for v in verdicts} == {Level.OK}, [v for v in verdicts if v.level is not Level.OK]
    found = by_check(verdicts)
    assert found["bridge"].detail == "br0 holds 198.18.0.11/24; port eno1"
    assert found["mtu"].detail == "br0 1500, eno1 1500"
    assert found["docker"].detail == "Docker 20.10.24+dfsg1, API 1.41"
    assert all(v.fix == "" for v in verdicts)
    assert exit_status(verdicts) == 0


def test_without_a_resolver_in_the_cluster_file_its_check_is_skipped():
    found = judge(healthy(resolver=None))
    assert found["resolver"].level is Level.SKIP
    assert "no resolver" in found["resolver"].detail


def test_an_unknown_host_key_names_known_hosts_and_skips_what_needs_ssh():
    found = judge(HostFacts(host="node1", ssh_error="host key of 198.18.0.11 is unknown (ssh-ed25519 SHA256:x)",
                            host_key_refused=True))
    assert found["ssh"].level is Level.FAIL
    assert "ssh-keyscan -p 22 198.18.0.11 >> /etc/nap/known_hosts" in found["ssh"].fix
    for name in ("docker", "docker-route", "bridge", "mtu", "bridge-netfilter", "clock", "state-dir"):
        assert found[name].level is Level.SKIP, name
    assert exit_status(found.values()) == 1


def test_an_unreachable_host_gets_the_ssh_command_to_try():
    found = judge(HostFacts(host="node1", ssh_error="SSH connection to root@198.18.0.11:22: connection refused"))
    assert found["ssh"].fix.startswith("check that the host is up and sshd listens: `ssh -p 22 root@198.18.0.11 true`")


def test_docker_down_fails_with_how_to_start_it():
    found = judge(healthy(docker_error="Error while fetching server API version", api_version=None,
                          docker_version=None))
    assert found["docker"].level is Level.FAIL
    assert "systemctl enable --now docker" in found["docker"].fix
    assert found["docker-route"].level is Level.SKIP
    assert found["bridge"].level is Level.OK


def test_an_old_api_fails_and_dial_stdio_warns_with_the_sshd_setting():
    found = judge(healthy(api_version="1.40", docker_version="19.03.15", docker_route=None,
                          route_refused="administratively prohibited"))
    assert found["docker"].level is Level.FAIL
    assert "1.41 or later needed" in found["docker"].detail
    assert found["docker-route"].level is Level.WARN
    assert "administratively prohibited" in found["docker-route"].detail
    assert "AllowStreamLocalForwarding yes" in found["docker-route"].fix
    assert exit_status(found.values()) == 1


def test_no_bridge_names_where_the_address_is_and_the_guide():
    links = (Link("eno1", 1500, addresses=("198.18.0.11/24",)),)
    found = judge(healthy(links=links))
    assert found["bridge"].level is Level.FAIL
    assert found["bridge"].detail == "no br0 on the host (it is on eno1)"
    assert "docs/real-hosts.md" in found["bridge"].fix
    assert found["mtu"].level is Level.SKIP


def test_a_bridge_without_the_nic_names_the_nic_to_attach():
    links = (Link("eno1", 1500, addresses=("198.18.0.11/24",)), Link("br0", 1500, kind="bridge"),
             Link("veth1", 1500, kind="veth", master="br0"))
    found = judge(healthy(links=links))
    assert found["bridge"].level is Level.FAIL
    assert "br0 does not hold the host's address 198.18.0.11; it is on eno1" in found["bridge"].detail
    assert "br0 has no NIC as a port" in found["bridge"].detail
    assert "`ip link set eno1 master br0`" in found["bridge"].fix


def test_the_address_on_both_the_bridge_and_the_nic_or_with_another_prefix():
    links = (Link("eno1", 1500, master="br0", addresses=("198.18.0.11/24",)),
             Link("br0", 1500, kind="bridge", addresses=("198.18.0.11/16",)))
    found = judge(healthy(links=links))
    assert "br0 holds 198.18.0.11/16, not 198.18.0.11/24" in found["bridge"].detail
    assert "198.18.0.11 is on eno1 too" in found["bridge"].detail
    assert "`ip addr del 198.18.0.11/24 dev eno1`" in found["bridge"].fix


def test_a_wifi_port_fails():
    links = (Link("wlp2s0", 1500, master="br0", wireless=True),
             Link("br0", 1500, kind="bridge", addresses=("198.18.0.11/24",)))
    found = judge(healthy(links=links))
    assert found["bridge"].level is Level.FAIL
    assert "wlp2s0 is a Wi-Fi interface" in found["bridge"].detail


def test_mtu_differences():
    links = (Link("eno1", 1400, master="br0"), Link("br0", 1450, kind="bridge", addresses=("198.18.0.11/24",)))
    found = judge(healthy(links=links))
    assert found["mtu"].level is Level.FAIL
    assert found["mtu"].detail == ("br0 has MTU 1450, network.mtu is 1500; eno1 has MTU 1400, below network.mtu "
                                   "1500: larger frames are dropped on the way")
    assert "`ip link set br0 mtu 1500`" in found["mtu"].fix


ON = (("net.bridge.bridge-nf-call-iptables", 1), ("net.bridge.bridge-nf-call-ip6tables", 1),
      ("net.bridge.bridge-nf-call-arptables", 1))


def test_bridge_netfilter_is_judged_with_the_forward_chain():
    off = judge(healthy(netfilter=(("net.bridge.bridge-nf-call-iptables", 0),)))["bridge-netfilter"]
    assert (off.level, off.detail) == (Level.OK, "bridge-nf-call-iptables=0: frames crossing br0 bypass iptables")
    docker = judge(healthy(netfilter=ON, forward_rules=("-P FORWARD DROP", "-A FORWARD -j DOCKER-USER",
                                                        "-A FORWARD -i br0 -o br0 -j ACCEPT")))["bridge-netfilter"]
    assert (docker.level, docker.detail) == (Level.OK, "bridge-nf-call-iptables=1; FORWARD accepts br0 to br0")
    open_chain = judge(healthy(netfilter=ON, forward_rules=("-P FORWARD ACCEPT",)))["bridge-netfilter"]
    assert open_chain.level is Level.OK
    dropped = judge(healthy(netfilter=ON, forward_rules=("-P FORWARD DROP",)))["bridge-netfilter"]
    assert dropped.level is Level.WARN
    assert "drops without accepting br0 to br0 first" in dropped.detail
    assert "`iptables -I FORWARD -i br0 -o br0 -j ACCEPT`" in dropped.fix
    unread = judge(healthy(netfilter=ON))["bridge-netfilter"]
    assert unread.level is Level.WARN and "could not be read" in unread.detail
    assert exit_status([dropped, unread]) == 0  # warnings exit 0


def test_clock_offsets_against_the_lock_lease():
    assert judge(healthy(clock_offset_s=0.8))["clock"].level is Level.OK
    warn = judge(healthy(clock_offset_s=-3.0))["clock"]
    assert warn.level is Level.WARN and warn.detail.startswith("-3.000 s against this machine")
    fail = judge(healthy(clock_offset_s=12.0))["clock"]
    assert fail.level is Level.FAIL
    assert "more than a third of the lock's lease (10 s)" in fail.detail
    assert "NTP" in fail.fix
    # the uncertainty of the reading is given the benefit of the doubt
    assert judge(healthy(clock_offset_s=1.5, clock_uncertainty_s=0.6))["clock"].level is Level.OK


def test_state_dir_not_writable():
    found = judge(healthy(state_dir_error="mktemp: failed to create file: Read-only file system"))
    assert found["state-dir"].level is Level.FAIL
    assert found["state-dir"].detail == ("/var/lib/nap-compose: mktemp: failed to create file: Read-only file "
                                         "system")


def test_the_programs_isolation_needs_fail_where_missing_and_python3_alone_warns_without_it():
    found = judge(healthy(programs=("python3", "nsenter")))["programs"]
    assert found.level is Level.FAIL and "no nft" in found.detail and "nftables" in found.fix
    found = judge(healthy(programs=("nft", "nsenter")))["programs"]  # Docker 20.10 announces nothing itself
    assert found.level is Level.FAIL and found.fix == "`apt-get install python3-minimal` on the host"
    found = judge(healthy(programs=("nft", "nsenter"), docker_version="28.1.1"))["programs"]
    assert found.level is Level.WARN and "file by file over SFTP" in found.detail
    quiet = CLUSTER.replace("resolver: false}", "resolver: false, isolation: false}")
    assert judge(healthy(programs=()), quiet)["programs"].level is Level.WARN
    assert judge(healthy(programs=("python3",)), quiet)["programs"].level is Level.OK
    assert judge(healthy(programs=None))["programs"].level is Level.SKIP


def test_resolver_absent_stopped_or_silent():
    absent = judge(healthy(resolver=ResolverFacts()), RESOLVER)["resolver"]
    # not started yet (before the first `network create`): a warning, the command exits 0
    assert absent.detail == "no nap-compose-resolver container" and absent.level is Level.WARN
    assert "`nap-compose network create`" in absent.fix
    stopped = judge(healthy(resolver=ResolverFacts(container="exited")), RESOLVER)["resolver"]
    assert stopped.level is Level.FAIL and "`nap-compose network create`" in stopped.fix
    silent = judge(healthy(resolver=ResolverFacts(container="running", error="no reply within 2 s")),
                   RESOLVER)["resolver"]
    assert silent.detail == "nap-compose-resolver runs but 198.18.0.11:53 did not answer (no reply within 2 s)"


def store_by_check(facts, text=CLUSTER):
    return by_check(judge_store(cluster(text), facts))


def test_a_healthy_store():
    found = store_by_check(StoreFacts(url="etcd3://a:2379,b:2379,c:2379", tls=True, client_cert=True,
                                      members=tuple(MemberHealth(e, True) for e in ("a:2379", "b:2379", "c:2379")),
                                      pool_size=90, pool_used=3))
    assert {v.level for v in found.values()} == {Level.OK}
    assert found["pool"].detail == "87 of 90 addresses free"
    assert list(found) == ["store", "store-tls", "store-members", "pool"]


def test_an_unreachable_store_fails_and_skips_the_rest():
    found = store_by_check(StoreFacts(url="etcd3://a:2379", error="cannot reach etcd at a:2379: connection refused"))
    assert found["store"].level is Level.FAIL
    assert "etcdctl" in found["store"].fix
    assert {found[n].level for n in ("store-tls", "store-members", "pool")} == {Level.SKIP}


def test_plain_http_a_sick_member_and_a_low_pool_warn():
    found = store_by_check(StoreFacts(url="etcd://a:2379,b:2379", members=(
        MemberHealth("a:2379", True), MemberHealth("b:2379", False, "connection refused")),
        pool_size=90, pool_used=85))
    assert found["store-tls"].level is Level.WARN and "plain HTTP" in found["store-tls"].detail
    assert found["store-members"].level is Level.WARN
    assert found["store-members"].detail == "a:2379 healthy, b:2379 NOT healthy: connection refused"
    assert found["pool"].level is Level.WARN
    assert exit_status(found.values()) == 0


def test_every_member_down_or_an_empty_pool_fails():
    found = store_by_check(StoreFacts(url="etcd://a:2379", members=(MemberHealth("a:2379", False, "timed out"),),
                                      pool_size=90, pool_used=90))
    assert found["store-members"].level is Level.FAIL
    assert found["pool"].level is Level.FAIL and found["pool"].detail == "0 of 90 addresses free"


def test_a_file_store_warns_that_it_is_not_shared():
    found = store_by_check(StoreFacts(url="file:///etc/nap/nap-ipam.json", pool_size=90, pool_used=0))
    assert found["store-tls"].level is Level.WARN
    assert found["store-members"].level is Level.SKIP


# --------------------------------------------------------------------------- the command, over a fake wiring

import io  # noqa: E402
import json  # noqa: E402

from napcompose.cli import main  # noqa: E402
from napcompose.cli.wiring import Wiring  # noqa: E402


class _NoConnections:
    def close(self):
        pass


class FakeWiring(Wiring):
    """Real file store beside the cluster file; each host answers with the facts given."""

    def __init__(self, facts):
        self.facts = facts
        self.asked = []

    def connections(self, cluster, accept_new_host_keys=False):
        return _NoConnections()

    def doctor_host_facts(self, cluster, host, connections):
        self.asked.append(host.name)
        return self.facts[host.name]

    def store_members(self, spec):
        return ()


def run_doctor(tmp_path, facts, *words):
    path = tmp_path / "nap-cluster.yml"
    path.write_text(CLUSTER.replace('store: {url: "etcd3://198.18.0.254:2379"}\n', "").replace(
        "  - {name: node1, address: 198.18.0.11}", "  - {name: node1, address: 198.18.0.11}\n"
                                                   "  - {name: node2, address: 198.18.0.12}"))
    out, err = io.StringIO(), io.StringIO()
    wiring = FakeWiring(facts)
    status = main(["--cluster", str(path), "doctor", *words], stdout=out, stderr=err, environ={},
                  cwd=str(tmp_path), wiring=wiring)
    return status, out.getvalue(), err.getvalue(), wiring


def test_the_command_prints_a_line_per_check_and_fails_naming_the_host_and_fix(tmp_path):
    bad = healthy(host="node2", links=(Link("eno1", 1500, addresses=("198.18.0.12/24",)),))
    status, out, err, wiring = run_doctor(tmp_path, {"node1": healthy(), "node2": bad})
    assert (status, err) == (1, "")
    assert sorted(wiring.asked) == ["node1", "node2"]
    lines = out.splitlines()
    assert lines[0].split() == ["node1", "ssh", "OK", "root@198.18.0.11:22,", "host", "key", "known"]
    failed = [line for line in lines if " FAIL " in line]
    assert failed == [("node2  bridge            FAIL  no br0 on the host (it is on eno1) | fix: make br0 with "
                       "198.18.0.12/24 and the NIC as its port in the host's network configuration "
                       "(docs/real-hosts.md, 'The bridge'), then `nap-compose network create`")]
    assert [line.split()[0] for line in lines[:-1]] == ["node1"] * 10 + ["node2"] * 10 + ["store"] * 4
    assert "store  pool              OK    90 of 90 addresses free" in lines
    assert lines[-1] == "doctor: 2 host(s) and the store: 18 ok, 1 warning(s), 1 failure(s), 4 skipped"


def test_json_and_warnings_exit_zero(tmp_path):
    status, out, _, _ = run_doctor(tmp_path, {"node1": healthy(), "node2": healthy(host="node2", links=(
        Link("eno1", 1500, master="br0"), Link("br0", 1500, kind="bridge", addresses=("198.18.0.12/24",))))},
        "--format", "json")
    assert status == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["counts"] == {"ok": 20, "warn": 1, "fail": 0, "skip": 3}
    assert report["checks"][-1] == {"subject": "store", "check": "pool", "level": "ok",
                                    "detail": "90 of 90 addresses free", "fix": ""}


def test_a_nic_left_out_of_the_bridge_is_named_in_the_fix():
    links = (Link("lo", 65536, addresses=("127.0.0.1/8",)), Link("eth0", 1500, kind="veth"),
             Link("br0", 1500, kind="bridge", addresses=("198.18.0.11/24",)),
             Link("veth9", 1500, kind="veth", master="br0"))
    found = judge(healthy(links=links))["bridge"]
    assert found.detail == "br0 has no NIC as a port: containers cannot reach other hosts"
    assert found.fix.startswith("attach the host's NIC: `ip link set eth0 master br0`")
