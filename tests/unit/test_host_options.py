"""Host options and build options: each value in the file reaches docker-py's arguments, a bad one is
an error naming file, line, service and key, and only a set option changes the config hash."""

import re

import docker
import pytest

from napcompose.adapters.docker_create import create_kwargs
from napcompose.adapters.images import build_kwargs
from napcompose.config import parse_project, render
from napcompose.confighash import config_hash
from napcompose.errors import ConfigError
from napcompose.model import ContainerRequest, Replica

API = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.45")  # builds arguments; never connects


def _project(body, version="2.4", extra=""):
    text = (f"version: '{version}'\nservices:\n  web:\n    image: x\n"
            + "".join(f"    {line}\n" for line in body.splitlines()) + extra)
    return parse_project([("docker-compose.yml", text)], project_name="p", working_dir="/srv/p"), text


def _spec(body, **kw):
    return _project(body, **kw)[0].service("web")


def _create(spec):
    request = ContainerRequest(replica=Replica("p", "web", 1), host="node1", spec=spec, image="x", network="nap",
                               ip="198.18.0.100", alloc_id="a1", config_hash="h")
    return create_kwargs(API, request)


HOST_CONFIG = [
    ("security_opt: ['no-new-privileges:true', 'seccomp=unconfined']",
     {"SecurityOpt": ["no-new-privileges:true", "seccomp=unconfined"]}),
    ("group_add: ['100', audio, 44]", {"GroupAdd": ["100", "audio", "44"]}),
    ("pids_limit: 64", {"PidsLimit": 64}),
    ("runtime: runsc", {"Runtime": "runsc"}),
    ("userns_mode: host", {"UsernsMode": "host"}),
    ("cgroup: private", {"CgroupnsMode": "private"}),
    ("uts: host", {"UTSMode": "host"}),
    ("devices: ['/dev/ttyUSB0:/dev/ttyS0:rw', /dev/fuse]",
     {"Devices": [{"PathOnHost": "/dev/ttyUSB0", "PathInContainer": "/dev/ttyS0", "CgroupPermissions": "rw"},
                  {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}]}),
    ("devices: [{source: /dev/sda, target: /dev/xvda, permissions: r}]",
     {"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvda", "CgroupPermissions": "r"}]}),
    ("device_cgroup_rules: ['c 188:* rmw', 'b 7:* rmw']", {"DeviceCgroupRules": ["c 188:* rmw", "b 7:* rmw"]}),
    ("cpu_shares: 512", {"CpuShares": 512}),
    ("cpuset: '0-1,3'", {"CpusetCpus": "0-1,3"}),
    ("cpu_period: 100000", {"CpuPeriod": 100000}),
    ("cpu_quota: '50ms'", {"CpuQuota": 50000}),
    ("cpu_rt_period: 1400us", {"CPURealtimePeriod": 1400}),
    ("cpu_rt_runtime: 400ms", {"CPURealtimeRuntime": 400000}),
    ("oom_kill_disable: true", {"OomKillDisable": True}),
    ("oom_score_adj: -500", {"OomScoreAdj": -500}),
    ("mem_swappiness: 10", {"MemorySwappiness": 10}),
    ("memswap_limit: 1g", {"MemorySwap": 1 << 30}),
    ("memswap_limit: -1", {"MemorySwap": -1}),
    ("storage_opt: {size: 20G}", {"StorageOpt": {"size": "20G"}}),
    ("dns_opt: ['ndots:2', use-vc]", {"DnsOptions": ["ndots:2", "use-vc"]}),
    ("cgroup_parent: m-executor", {"CgroupParent": "m-executor"}),
    ("blkio_config:\n  weight: 300\n  weight_device: [{path: /dev/sda, weight: 400}]\n"
     "  device_read_bps: [{path: /dev/sda, rate: 12mb}]\n  device_write_bps: [{path: /dev/sda, rate: 1024k}]\n"
     "  device_read_iops: [{path: /dev/sda, rate: 120}]\n  device_write_iops: [{path: /dev/sdb, rate: 30}]",
     {"BlkioWeight": 300, "BlkioWeightDevice": [{"Path": "/dev/sda", "Weight": 400}],
      "BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 12 << 20}],
      "BlkioDeviceWriteBps": [{"Path": "/dev/sda", "Rate": 1 << 20}],
      "BlkioDeviceReadIOps": [{"Path": "/dev/sda", "Rate": 120}],
      "BlkioDeviceWriteIOps": [{"Path": "/dev/sdb", "Rate": 30}]}),
]


@pytest.mark.parametrize("body,expected", HOST_CONFIG, ids=[b.split(":")[0] for b, _ in HOST_CONFIG])
def test_the_files_value_reaches_the_host_config(body, expected):
    host_config = _create(_spec(body))["host_config"]
    assert {key: host_config.get(key) for key in expected} == expected


def test_deploy_pids_limit_reaches_the_host_config_and_pids_limit_wins():
    deploy = "deploy: {resources: {limits: {pids: 32}}}"
    assert _create(_spec(deploy, version="3.8"))["host_config"]["PidsLimit"] == 32
    assert _create(_spec(deploy + "\npids_limit: 16", version="3.8"))["host_config"]["PidsLimit"] == 16


def test_link_local_ips_reach_the_endpoint():
    spec = _spec("networks:\n  lan: {link_local_ips: [169.254.8.8]}\n  back: {link_local_ips: [169.254.8.9]}",
                 extra="networks:\n  lan: {}\n  back: {}\n")
    endpoint = _create(spec)["networking_config"]["EndpointsConfig"]["nap"]
    assert endpoint["IPAMConfig"] == {"IPv4Address": "198.18.0.100", "LinkLocalIPs": ["169.254.8.9", "169.254.8.8"]}


def test_unset_options_are_not_sent():
    host_config = _create(_spec(""))["host_config"]
    for key in ("SecurityOpt", "GroupAdd", "PidsLimit", "Runtime", "UsernsMode", "CgroupnsMode", "UTSMode",
                "Devices", "DeviceCgroupRules", "CpuShares", "CpusetCpus", "CpuPeriod", "CpuQuota",
                "CPURealtimePeriod", "CPURealtimeRuntime", "OomKillDisable", "OomScoreAdj", "MemorySwappiness",
                "MemorySwap", "StorageOpt", "DnsOptions", "CgroupParent", "BlkioWeight", "BlkioWeightDevice",
                "BlkioDeviceReadBps"):
        assert key not in host_config
    endpoint = _create(_spec(""))["networking_config"]["EndpointsConfig"]["nap"]
    assert endpoint["IPAMConfig"] == {"IPv4Address": "198.18.0.100"}


BUILD = "build:\n  context: .\n  dockerfile: web.Dockerfile\n"


def test_build_options_reach_the_build_arguments():
    spec = _spec(BUILD + "  labels: {team: a}\n  cache_from: [base:1]\n  network: host\n  shm_size: 128m\n"
                         "  extra_hosts: ['mirror:10.0.0.5']\n  no_cache: true\n  pull: true\n  args: [A=1]\n"
                         "  target: prod")
    assert build_kwargs(spec.build) == dict(
        dockerfile="web.Dockerfile", nocache=True, pull=True, buildargs={"A": "1"}, target="prod",
        labels={"team": "a"}, cache_from=["base:1"], network_mode="host", shmsize=128 << 20,
        extra_hosts={"mirror": "10.0.0.5"})


def test_build_without_options_sends_what_it_did_before():
    assert build_kwargs(_spec(BUILD).build) == dict(
        dockerfile="web.Dockerfile", nocache=False, pull=False, buildargs=None, target=None, labels=None,
        cache_from=None, network_mode=None, shmsize=None, extra_hosts=None)
    assert build_kwargs(_spec(BUILD).build, no_cache=True)["nocache"] is True


def test_the_build_options_reach_the_engines_build_call(tmp_path):
    from napcompose.adapters import images

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    calls = []

    class Api:
        def build(self, **kwargs):
            calls.append(kwargs)
            return iter([{"stream": "Step 1/1 : FROM scratch\n"}])

        def inspect_image(self, tag):
            return {"Id": "sha256:1"}

    class Client:
        api = Api()

    spec = _spec(f"build: {{context: {tmp_path}, labels: [a=b], pull: true}}").build
    assert images.build(Client(), spec, "p_web", host="node1") == "sha256:1"
    assert (calls[0]["labels"], calls[0]["pull"], calls[0]["path"]) == ({"a": "b"}, True, str(tmp_path))


BAD = [
    ("security_opt: no-new-privileges", "security_opt", "must be a list"),
    ("security_opt: ['']", "security_opt", "an entry is empty"),
    ("group_add: [true]", "group_add[0]", "must be a string or a number"),
    ("pids_limit: lots", "pids_limit", "'lots' is not an integer"),
    ("pids_limit: -2", "pids_limit", "out of range"),
    ("pids_limit: '" + "9" * 60 + "'", "pids_limit", "'" + "9" * 36 + "... is out of range"),
    ("runtime: [runc]", "runtime", "must be a string"),
    ("userns_mode: 'private'", "userns_mode", "'private' is not supported: the only user namespace mode is 'host'"),
    ("cgroup: shared", "cgroup", "must be one of 'host', 'private'"),
    ("uts: 'container:x'", "uts", "'container:x' is not supported"),
    ("devices: [dev/null]", "devices", "'dev/null' is not a device path"),
    ("devices: ['nvidia.com/gpu=all']", "devices", "CDI device names are not supported"),
    ("devices: ['/dev/null:/dev/null:rwx']", "devices", "permissions 'rwx' of device /dev/null"),
    ("devices: ['/dev/null:null']", "devices", "container path 'null' of device /dev/null is not absolute"),
    ("device_cgroup_rules: ['z 1:2 r']", "device_cgroup_rules", "'z 1:2 r' is not a device cgroup rule"),
    ("cpu_shares: lots", "cpu_shares", "'lots' is not an integer"),
    ("cpu_shares: -1", "cpu_shares", "out of range"),
    ("cpuset: a-b", "cpuset", "'a-b' is not a list of CPU numbers"),
    ("cpu_period: lots", "cpu_period", "'lots' is not a number of microseconds"),
    ("cpu_quota: 1x", "cpu_quota", "'1x' is not a number of microseconds"),
    ("cpu_rt_period: soon", "cpu_rt_period", "not a number of microseconds"),
    ("cpu_period: 1.5", "cpu_period", "1.5 is not a whole number of microseconds"),
    ("cpu_period: .inf", "cpu_period", "inf is not a whole number of microseconds"),
    ("cpu_rt_runtime: [1]", "cpu_rt_runtime", "must be a string or a number"),
    ("oom_kill_disable: maybe", "oom_kill_disable", "must be a boolean"),
    ("oom_score_adj: 2000", "oom_score_adj", "out of range (-1000 to 1000)"),
    ("mem_swappiness: 101", "mem_swappiness", "out of range (0 to 100)"),
    ("memswap_limit: lots", "memswap_limit", "'lots' is not a size"),
    ("storage_opt: [size=1G]", "storage_opt", "must be a mapping"),
    ("dns_opt: ndots", "dns_opt", "must be a list"),
    ("cgroup_parent: [a]", "cgroup_parent", "must be a string"),
    ("blkio_config:\n  weight: 5", "blkio_config.weight", "out of range (10 to 1000)"),
    ("blkio_config:\n  device_read_bps: [{path: /dev/sda, rate: fast}]", "blkio_config.device_read_bps",
     "'fast' is not a size"),
    ("blkio_config:\n  device_write_iops: [{path: /dev/sda, rate: 1k}]", "blkio_config.device_write_iops",
     "'1k' is not an integer"),
    ("blkio_config:\n  weight_device: [{weight: 100}]", "blkio_config.weight_device",
     "each entry needs a path and a weight"),
    ("build:\n  context: .\n  shm_size: lots", "build.shm_size", "'lots' is not a size"),
    ("build:\n  context: .\n  no_cache: maybe", "build.no_cache", "must be a boolean"),
    ("build:\n  context: .\n  pull: maybe", "build.pull", "must be a boolean"),
    ("build:\n  context: .\n  network: [host]", "build.network", "must be a string"),
    ("build:\n  context: .\n  cache_from: base", "build.cache_from", "must be a list"),
    ("build:\n  context: .\n  labels: 5", "build.labels", "must be a mapping or a list of strings"),
    ("build:\n  context: .\n  extra_hosts: [mirror]", "build.extra_hosts", "'mirror' needs an address"),
    ("volumes:\n  - {type: bind, source: /srv, target: /srv, bind: {create_host_path: false}}", "volumes",
     "bind.create_host_path: false is not supported by nap-compose: the engine creates a missing bind source"),
]


@pytest.mark.parametrize("body,key,message", BAD, ids=[b.replace("\n", " ")[:50] for b, _, _ in BAD])
def test_a_bad_value_names_file_line_service_and_key(body, key, message):
    with pytest.raises(ConfigError) as err:
        _project(body, version="3.8")
    text = str(err.value)
    match = re.match(rf"^docker-compose\.yml:(\d+): service 'web': {re.escape(key)}: (.*)$", text)
    assert match, text
    assert message in match.group(2)
    # The line is the one of the key (or of the last key of the path that the file writes).
    lines = ("version: '3.8'\nservices:\n  web:\n    image: x\n"
             + "".join(f"    {line}\n" for line in body.splitlines())).splitlines()
    written = [i + 1 for i, line in enumerate(lines) for part in re.split(r"[.\[]", key)
               if re.match(rf"^\s*(- \{{)?{re.escape(part)}:", line)]
    assert int(match.group(1)) in written, (text, written)


def test_link_local_ips_must_be_link_local():
    with pytest.raises(ConfigError, match=r"^docker-compose.yml:7: service 'web': networks.lan.link_local_ips: "
                                          r"'10.0.0.1' is not a link-local address"):
        _project("networks:\n  lan:\n    link_local_ips: [10.0.0.1]", extra="networks:\n  lan: {}\n")


def test_create_host_path_true_is_what_the_engine_does():
    spec = _spec("volumes:\n  - {type: bind, source: /srv, target: /srv, bind: {create_host_path: true}}")
    assert spec.volumes == ("/srv:/srv",)


ALL = ("security_opt: [no-new-privileges]\ngroup_add: ['100']\npids_limit: 64\nruntime: runc\nuserns_mode: host\n"
       "cgroup: host\nuts: host\ndevices: ['/dev/fuse']\ndevice_cgroup_rules: ['c 1:3 r']\ncpu_shares: 0\n"
       "cpuset: '0'\ncpu_period: 100000\ncpu_quota: 50000\ncpu_rt_period: 1000\ncpu_rt_runtime: 500\n"
       "oom_kill_disable: true\noom_score_adj: 0\nmem_swappiness: 0\nmemswap_limit: -1\nstorage_opt: {size: 1G}\n"
       "dns_opt: [ndots:1]\ncgroup_parent: $$x\nblkio_config: {weight: 10, device_read_iops: [{path: /dev/a, rate: 1}]}\n"
       "networks:\n  default: {link_local_ips: [169.254.1.1]}\n"
       "build: {context: ., labels: {a: $$b}, cache_from: [c], network: none, shm_size: 1m,"
       " extra_hosts: ['h:10.0.0.1'], no_cache: true, pull: true}")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_config_output_reads_back_to_the_same_options(fmt):
    project, _ = _project(ALL)
    again = parse_project([("rendered", render(project, fmt))], project_name="p", working_dir="/srv/p")
    assert again.service("web") == project.service("web")
    assert project.service("web").cpu_shares == 0 and project.service("web").cgroup_parent == "$x"


def test_config_output_of_an_option():
    project, _ = _project("security_opt: [no-new-privileges]\npids_limit: 64\ndevices: ['/dev/fuse']")
    assert render(project) == ("name: p\nservices:\n  web:\n    devices:\n    - /dev/fuse:/dev/fuse:rwm\n"
                               "    image: x\n    pids_limit: 64\n    scale: 1\n    security_opt:\n"
                               "    - no-new-privileges\nx-nap:\n  seed: 0\n  strategy: spread\n")


def test_a_device_path_with_a_colon_reads_back():
    project, _ = _project("devices: [{source: '/dev/disk/by-path/pci-0000:00:1f.2', target: /dev/sdz}]")
    again = parse_project([("rendered", render(project))], project_name="p", working_dir="/srv/p")
    assert again.service("web").devices == project.service("web").devices
    assert project.service("web").devices[0].source == "/dev/disk/by-path/pci-0000:00:1f.2"


def test_a_later_file_overrides_a_device_by_its_container_path():
    text = "services:\n  web:\n    image: x\n    devices: [{source: /dev/a}, '/dev/b:/dev/c']\n"
    later = "services:\n  web:\n    devices: ['/dev/a:/dev/a:r', {source: /dev/d, target: /dev/c}]\n"
    project = parse_project([("a.yml", text), ("b.yml", later)], project_name="p", working_dir="/srv/p")
    assert [(d.source, d.target, d.permissions) for d in project.service("web").devices] == [
        ("/dev/a", "/dev/a", "r"), ("/dev/d", "/dev/c", "rwm")]


def test_unset_options_leave_the_config_hash_alone():
    plain = _spec("")
    assert config_hash(_spec("blkio_config: {}\noom_kill_disable: false")) == config_hash(plain)
    build = _spec(BUILD)
    assert config_hash(_spec(BUILD + "  no_cache: false")) == config_hash(build)


SET = [line for line in ALL.split("\n") if not line.startswith((" ", "networks", "build"))] + [
    "networks:\n  default: {link_local_ips: [169.254.1.1]}"]


@pytest.mark.parametrize("body", SET, ids=[b.split(":")[0] for b in SET])
def test_a_set_option_changes_the_config_hash(body):
    assert config_hash(_spec(body)) != config_hash(_spec(""))


@pytest.mark.parametrize("option", ["labels: {a: b}", "cache_from: [c]", "network: none", "shm_size: 1m",
                                    "extra_hosts: ['h:10.0.0.1']", "no_cache: true", "pull: true"])
def test_a_set_build_option_changes_the_config_hash(option):
    assert config_hash(_spec(BUILD + "  " + option)) != config_hash(_spec(BUILD))
