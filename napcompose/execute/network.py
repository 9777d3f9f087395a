"""The handlers of the actions on the flat network: host blocks in the store, each host's network and
names resolver, through ``core.blocks`` (ipam.hostblocks.HostBlocks) and ``core.networks``
(ports.HostNetworks)."""

from __future__ import annotations

from napcompose.errors import IpamError, NapComposeError
from napcompose.execute.state import RunState
from napcompose.planner.network_actions import (CreateNetwork, LoadResolverImage, RecreateNetwork, ReleaseBlock,
                                                RemoveNetwork, ReserveBlocks, RunResolver, StartResolver)


def _networks(state: RunState):
    if state.core.networks is None:
        raise NapComposeError("no way to reach the hosts' networks was given to this run")
    return state.core.networks


def _blocks(state: RunState):
    if state.core.blocks is None:
        raise NapComposeError("no host blocks were given to this run")
    return state.core.blocks


def reserve_blocks(state: RunState, action: ReserveBlocks) -> None:
    """Reserve the planned blocks; a block that went to another host meanwhile fails the run, since
    the networks were planned with it."""
    def work():
        got = _blocks(state).ensure(state.core.cluster, [host for host, _ in action.entries])
        for host, cidr in action.entries:
            if host not in got or got[host].cidr != cidr:
                held = got[host].cidr if host in got else "none"
                raise IpamError(f"the block {cidr} planned for host {host} went elsewhere meanwhile (it holds "
                                f"{held}); run it again")

    state.core.step(action.subject, action.verb, None, None, work)


def release_block(state: RunState, action: ReleaseBlock) -> None:
    state.core.step(action.subject, action.verb, action.host, None, lambda: _blocks(state).release(action.host))


def create_network(state: RunState, action: CreateNetwork) -> None:
    state.core.step(action.subject, action.verb, action.host, None,
                    lambda: _networks(state).create_network(action.host, action.options))


def recreate_network(state: RunState, action: RecreateNetwork) -> None:
    def work():
        networks = _networks(state)
        networks.remove_network(action.host, action.network_id)
        networks.create_network(action.host, action.options)

    state.core.step(action.subject, action.verb, action.host, None, work)


def remove_network(state: RunState, action: RemoveNetwork) -> None:
    state.core.step(action.subject, action.verb, action.host, None,
                    lambda: _networks(state).remove_network(action.host, action.network_id))


def load_resolver_image(state: RunState, action: LoadResolverImage) -> None:
    state.core.step(action.subject, action.verb, action.host, None,
                    lambda: _networks(state).load_resolver_image(action.host))


def start_resolver(state: RunState, action: StartResolver) -> None:
    state.core.step(action.subject, action.verb, action.host, None,
                    lambda: _networks(state).start_resolver(action.host, action.container_id))


def run_resolver(state: RunState, action: RunResolver) -> None:
    state.core.step(action.subject, action.verb, action.host, None,
                    lambda: _networks(state).run_resolver(action.host, action.config, action.replace))
