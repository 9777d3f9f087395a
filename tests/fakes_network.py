"""ports.HostNetworks in memory: each host's cluster network, names resolver and resolver image.

``calls`` records every call in order, as (operation, host); ``unreachable`` {host: reason} makes a
host fail every call; ``fail(operation, host, cause)`` makes one operation fail there. ``images``
is the ImageTransfer the resolver image is copied through between these hosts.
"""

from typing import Dict, List, Optional, Tuple

from napcompose.clustermodel import FoundNetwork, FoundResolver, NetworkOptions
from napcompose.errors import HostError
from napcompose.network.resolver import IMAGE


class FakeNetworks:
    def __init__(self, built: Optional[str] = None):
        self.built = built  # the digest of the resolver image made on this machine
        self.networks: Dict[str, FoundNetwork] = {}
        self.resolvers: Dict[str, FoundResolver] = {}
        self.resolver_images: Dict[str, str] = {}
        self.unreachable: Dict[str, str] = {}
        self.failing: Dict[Tuple[str, str], str] = {}
        self.calls: List[Tuple[str, str]] = []
        self.on_call = None  # called with (operation, host) before each call
        self._ids = 0
        self.images = _ResolverImages(self)

    def fail(self, operation: str, host: str, cause: str) -> None:
        self.failing[(operation, host)] = cause

    def _enter(self, operation: str, host: str, what: str = "") -> None:
        self.calls.append((operation, host))
        if self.on_call is not None:
            self.on_call(operation, host)
        if host in self.unreachable:
            raise HostError(host, f"cannot connect over SSH: {self.unreachable[host]}")
        if (operation, host) in self.failing:
            raise HostError(host, f"{what}: {self.failing[(operation, host)]}" if what else self.failing[(operation, host)])

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def find_network(self, host: str, name: str) -> Optional[FoundNetwork]:
        self._enter("find_network", host, f"network {name}")
        found = self.networks.get(host)
        return found if found is not None and found.options.name == name else None

    def create_network(self, host: str, options: NetworkOptions) -> None:
        self._enter("create_network", host, f"network {options.name}")
        assert host not in self.networks, f"network exists on {host}"
        self.networks[host] = FoundNetwork(self._new_id("net"), options)

    def remove_network(self, host: str, network_id: str) -> None:
        found = self.networks.get(host)
        self._enter("remove_network", host, f"network {found.options.name if found else network_id}")
        assert self.networks[host].id == network_id
        assert not self.networks[host].attached, "removed with containers attached"
        del self.networks[host]

    def find_resolver(self, host: str) -> Optional[FoundResolver]:
        self._enter("find_resolver", host, "inspect nap-compose-resolver")
        return self.resolvers.get(host)

    def resolver_image(self, host: str) -> Optional[str]:
        self._enter("resolver_image", host, f"inspect image {IMAGE}")
        return self.resolver_images.get(host)

    def load_resolver_image(self, host: str) -> None:
        self._enter("load_resolver_image", host, f"import image {IMAGE}")
        assert self.built is not None
        self.resolver_images[host] = self.built

    def start_resolver(self, host: str, container_id: str) -> None:
        self._enter("start_resolver", host, "starting nap-compose-resolver")
        found = self.resolvers[host]
        assert found.id == container_id
        self.resolvers[host] = FoundResolver(found.id, True, "running", found.config)

    def run_resolver(self, host: str, config: str, replace: Optional[str] = None) -> None:
        self._enter("run_resolver", host, "starting nap-compose-resolver")
        assert self.resolver_images.get(host) == self.built, f"no resolver image on {host}"
        if replace is not None:
            assert self.resolvers[host].id == replace
        self.resolvers[host] = FoundResolver(self._new_id("res"), True, "running", config)


class _ResolverImages:
    """The ImageTransfer port, for the resolver's image between the hosts of a FakeNetworks."""

    def __init__(self, networks: FakeNetworks):
        self._networks = networks

    def image_id(self, host: str, image: str) -> Optional[str]:
        assert image == IMAGE
        return self._networks.resolver_images.get(host)

    def copy(self, image: str, source: str, target: str) -> None:
        self._networks._enter("copy", target, f"load image {image} from {source}")
        self._networks.resolver_images[target] = self._networks.resolver_images[source]

    def build(self, host, spec, tag, no_cache=False):
        raise AssertionError("the resolver's image is never built on a host")
