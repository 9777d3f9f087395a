"""The composition root's factories: which adapter implements which port.

Tests pass their own Wiring (with in-memory fakes) to ``main``; the real one imports the
adapters lazily so that ``--help`` and pure commands never load docker-py or paramiko.
"""

from __future__ import annotations


class Wiring:
    # TCP connections to the cluster's SSH hosts begun as the process started (cli.main, for the
    # commands that ask every host at once); the first HostConnections takes them.
    early = None

    def store(self, cluster):
        """The KeyValueStore named by the cluster's store spec."""
        from napcompose.adapters.stores import open_store

        return open_store(cluster.store)

    def connections(self, cluster, accept_new_host_keys=False):
        """One lazily connecting HostConnections for every host of ``cluster``; the TCP connections to
        its SSH hosts begin before paramiko and docker-py load, so the two overlap."""
        from napcompose.adapters.early_tcp import EarlyConnections

        early, self.early = self.early, None
        if early is None:
            early = EarlyConnections.to_ssh_hosts(cluster.hosts)
        from napcompose.adapters.ssh import HostConnections

        return HostConnections(cluster, accept_new_host_keys=accept_new_host_keys, early=early)

    def engine(self, host, connections):
        """The ContainerEngine of one host, using that host's shared connection."""
        from napcompose.adapters.docker_engine import DockerEngine

        return DockerEngine(host, connections)

    def images(self, connections, reporter):
        """The ImageTransfer that builds and copies images between the hosts' daemons."""
        from napcompose.adapters.images import DockerImages

        return DockerImages(connections.docker, reporter)

    def bridge_filter(self, cluster, connections):
        """The BridgeFilter that loads each host's nftables table over its SSH connection."""
        from napcompose.adapters.bridge_filter import SshBridgeFilter

        return SshBridgeFilter(cluster, connections)

    def new_id(self) -> str:
        """A fresh allocation id."""
        import uuid

        return uuid.uuid4().hex

    def clock(self):
        from napcompose.adapters.system import SystemClock

        return SystemClock()

    def resolver_image(self):
        """The resolver's image, built on this machine (ConfigError when dnsmasq is not installed here)."""
        from napcompose.adapters import resolver

        return resolver.image()

    def networks(self, cluster, connections, built=None):
        """The HostNetworks of every host of ``cluster``: its flat network and names resolver, over the
        shared connections; ``built`` is the resolver's image to load into a host that lacks it."""
        from napcompose.adapters.docker_network import DockerNetworks

        return DockerNetworks(cluster, connections, built)

    def doctor_host_facts(self, cluster, host, connections):
        """What ``doctor`` judges about one host, asked over its connection (a HostFacts)."""
        from napcompose.adapters.doctor_facts import gather_host

        return gather_host(cluster, host, connections)

    def store_members(self, spec):
        """The health of every etcd endpoint the store spec names (MemberHealth each)."""
        from napcompose.adapters.doctor_facts import store_members

        return store_members(spec)
