"""The lab's cluster file, DIR/nap-cluster.yml: the same format an operator writes for real hosts."""

from __future__ import annotations

from napcompose.cluster import parse_cluster, render_cluster
from napcompose.lab import etcd
from napcompose.lab.layout import HOST_BLOCK, Layout
from napcompose.model import pairs
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, ResolverSpec, SshSpec, StoreSpec

NETWORK_NAME = "nap"
BRIDGE = "br0"


def lab_cluster(layout: Layout) -> Cluster:
    ssh = SshSpec(user="root", port=22, key_file=layout.operator_key, known_hosts=layout.known_hosts)
    hosts = tuple(
        # Each lab daemon listens on a socket of its own, not Docker's default, so the URL names it: the
        # Docker API then reaches it over a stream-local channel instead of a dial-stdio session.
        Host(name=h.name, address=h.address, docker_url=f"ssh://root@{h.address}{h.docker_sock}", ssh=ssh,
             labels=pairs({"zone": "a" if h.index % 2 else "b", "lab": layout.name}))
        for h in layout.hosts)
    network = ClusterNetwork(name=NETWORK_NAME, subnet=layout.subnet, router=layout.router,
                             pools=(layout.pool,), bridge=BRIDGE, mtu=1500,
                             # the operator's and the etcd members' addresses are no container's
                             reserved=tuple(dict.fromkeys((layout.operator,) + tuple(
                                 m.address for m in etcd.members(layout)))),
                             host_block=HOST_BLOCK,
                             host_blocks=(layout.host_blocks,),
                             # as on real hosts: every host answers the projects' names; its files
                             # go to the host's own /var/lib/nap-compose (its mount namespace)
                             resolver=ResolverSpec())
    tls = etcd.store_tls(layout)  # etcd asks every client for a certificate signed by the lab's CA
    store = StoreSpec(url=etcd.store_url(layout), prefix="/nap-compose", timeout_s=5.0, ca_cert=tls.ca,
                      cert=tls.client_cert, key=tls.client_key)
    return Cluster(hosts=hosts, network=network, store=store, source=layout.cluster_file)


def write_cluster_file(layout: Layout) -> Cluster:
    """Write the cluster file (paths relative to DIR) and return it as loaded back, so it is known valid."""
    text = "# Written by `nap-compose lab up`; paths are relative to this file.\n" + \
        render_cluster(lab_cluster(layout), base_dir=layout.dir)
    cluster = parse_cluster(text, layout.cluster_file)
    with open(layout.cluster_file, "w") as fh:
        fh.write(text)
    return cluster
