"""The flat network each host must have, and the drift report."""

from napcompose.clustermodel import ClusterNetwork, Host
from napcompose.network.desired import (NetworkOptions, NetworkResult, create_arguments, desired_network, network_drift,
                                options_from_inspect)

NET = ClusterNetwork(name="nap", subnet="198.18.0.0/24", router="198.18.0.1", pools=("198.18.0.100-198.18.0.249",))
HOST = Host(name="node2", address="198.18.0.12", docker_url="ssh://root@198.18.0.12")


def _inspect(**changes):
    """What `docker network inspect` returns for a network created as nap-compose creates it."""
    attrs = {
        "Name": "nap", "Driver": "bridge",
        "IPAM": {"Driver": "default", "Options": None, "Config": [
            {"Subnet": "198.18.0.0/24", "Gateway": "198.18.0.12",
             "AuxiliaryAddresses": {"DefaultGatewayIPv4": "198.18.0.1"}}]},
        "Options": {"com.docker.network.bridge.enable_icc": "true",
                    "com.docker.network.bridge.enable_ip_masquerade": "false",
                    "com.docker.network.bridge.name": "br0", "com.docker.network.driver.mtu": "1500"},
        "Containers": {},
    }
    for key, value in changes.items():
        if key == "options":
            attrs["Options"] = value
        else:
            attrs["IPAM"]["Config"][0][key] = value
    return attrs


def test_desired_network_uses_the_hosts_own_address_as_gateway_and_the_router_as_default_gateway():
    desired = desired_network(NET, HOST)
    assert desired == NetworkOptions(
        name="nap", driver="bridge", subnet="198.18.0.0/24", gateway="198.18.0.12",
        aux_addresses=(("DefaultGatewayIPv4", "198.18.0.1"),),
        options=(("com.docker.network.bridge.enable_icc", "true"),
                 ("com.docker.network.bridge.enable_ip_masquerade", "false"),
                 ("com.docker.network.bridge.name", "br0"),
                 ("com.docker.network.driver.mtu", "1500")))
    assert create_arguments(desired)["aux_addresses"] == {"DefaultGatewayIPv4": "198.18.0.1"}


def test_a_network_created_as_wanted_has_no_drift():
    assert network_drift(desired_network(NET, HOST), options_from_inspect(_inspect())) == ()


def test_options_left_to_dockers_defaults_count_as_their_default_values():
    # icc and mtu absent mean true and 1500; masquerade absent means true, which differs.
    found = options_from_inspect(_inspect(options={"com.docker.network.bridge.name": "br0"}))
    assert network_drift(desired_network(NET, HOST), found) == (
        "option com.docker.network.bridge.enable_ip_masquerade: want false, found true",)


def test_every_difference_is_reported():
    found = options_from_inspect(_inspect(Subnet="10.0.0.0/16", Gateway="10.0.0.1", AuxiliaryAddresses={},
                                          options={"com.docker.network.bridge.name": "docker1",
                                                   "com.docker.network.driver.mtu": "9000"}))
    assert network_drift(desired_network(NET, HOST), found) == (
        "subnet: want 198.18.0.0/24, found 10.0.0.0/16",
        "gateway: want 198.18.0.12, found 10.0.0.1",
        "aux-address DefaultGatewayIPv4: want 198.18.0.1, found (none)",
        "option com.docker.network.bridge.enable_ip_masquerade: want false, found true",
        "option com.docker.network.bridge.name: want br0, found docker1",
        "option com.docker.network.driver.mtu: want 1500, found 9000",
    )


def test_a_network_without_ipam_config():
    found = options_from_inspect({"Name": "nap", "Driver": "macvlan", "IPAM": {"Config": None}, "Options": None})
    drift = network_drift(desired_network(NET, HOST), found)
    assert drift[:3] == ("driver: want bridge, found macvlan", "subnet: want 198.18.0.0/24, found (none)",
                         "gateway: want 198.18.0.12, found (none)")


def test_result_ok_only_for_created_and_present():
    assert [NetworkResult("h", s).ok for s in ("created", "present", "drift", "failed")] == [True, True, False, False]
