"""The names a container gets at create time: its peers by service and replica name, its link aliases.

Docker writes a container's create-time host entries (``extra_hosts``) into its /etc/hosts at every
start, before its process runs, so these names hold from the container's first instant and after
every restart Docker makes on its own. They are computed from the addresses the plan reserved, which
stay with their replica (a recreated or moved replica keeps its address). Pure.

What a name points at:

- every replica by ``service_n``, ``service-n``, ``project-service-n`` and ``project_service_n``;
- every service of the project by its service name, and its ``networks.*.aliases``: the service's
  lowest-numbered replica (the managed block moves a linked service's name to another replica later,
  when that one stops or turns unhealthy);
- each link alias of the consumer (``links: [db:database]``): the target's lowest-numbered replica.

A name is given once; the first source wins in the order: the service's own ``extra_hosts`` (the
caller's), link aliases, service names and network aliases, replica names.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Tuple

from napcompose.model import Project, Replica
from napcompose.isolation.groups import shares_network
from napcompose.names.hostsfile import validate_name

Pair = Tuple[str, str]  # (name, address), as ContainerRequest.extra_hosts holds them
# how many services' lists ``for_service`` keeps made: a run creates a service's replicas together
MADE_KEPT = 16


def replica_names(replica: Replica) -> Tuple[str, ...]:
    """Every name ``replica`` answers to within the cluster: ``api_2``, ``api-2``, ``P-api-2``, ``P_api_2``."""
    return (replica.label, f"{replica.service}-{replica.index}",
            f"{replica.project}-{replica.service}-{replica.index}", replica.name)


class StartNames:
    """A project's create-time names over one set of reserved addresses, grouped once.

    Every consumer shares the replica and service names (built once); only its link aliases are its
    own, so asking for every service of a large project costs one pass over the addresses.
    """

    def __init__(self, project: Project, addresses: Mapping[Replica, str], services: bool = True):
        """``services`` False is for a cluster with a resolver: the bare service names and network
        aliases are left out (the resolver answers them with every serving replica, which one line
        in /etc/hosts would hide), and so are the replica names of services the consumer does not
        link to or depend on (the resolver answers them too; a file holding every replica of a large
        project in every container costs more than it gives)."""
        self.project = project
        self.everyone = services
        groups: Dict[str, List[Tuple[int, str]]] = {}
        for replica, address in addresses.items():
            if replica.project == project.name and address:
                groups.setdefault(replica.service, []).append((replica.index, address))
        self._first = {service: min(group)[1] for service, group in groups.items()}
        # each service's shared names: its own and its aliases first (project order), then its
        # replicas' (name order); a consumer gets those of the services it shares a network with
        self._heads: Dict[str, Tuple[Pair, ...]] = {}
        for spec in project.services:
            address = self._first.get(spec.name)
            if address is None or not services:
                continue
            self._heads[spec.name] = ((spec.name, address),) + tuple(
                (alias, address) for attachment in spec.networks for alias in attachment.aliases)
        self._replicas: Dict[str, Tuple[Pair, ...]] = {}
        # where the replicas' names begin in ``_common``
        self._run = sum(len(head) for head in self._heads.values())
        for service in sorted(groups):
            own = tuple((name, address) for index, address in sorted(groups[service])
                        for name in replica_names(Replica(project.name, service, index)))
            for name, _ in own:
                validate_name(name)
            self._replicas[service] = own
        common = [pair for head in self._heads.values() for pair in head]
        common += [pair for service in sorted(self._replicas) for pair in self._replicas[service]]
        for name, _ in common:
            validate_name(name)
        self._common = tuple(common)
        # {name: its index in ``_common``} when no name is there twice (else None)
        unique = {name: index for index, (name, _) in enumerate(self._common)}
        self._unique = unique if len(unique) == len(self._common) else None
        # (service, given) -> its extra_hosts: every replica of a service gets the same ones, so a
        # large project builds each list once, not once per replica (each holds every peer's names)
        self._made: Dict[Tuple[str, Tuple[Pair, ...]], Tuple[Pair, ...]] = {}
        self._sharing: Dict[str, bool] = {}  # service -> whether it shares a network with all others

    def known(self) -> Dict[str, str]:
        """{name: address} of every name shared by all consumers (link aliases aside): what a line
        Docker wrote at create time should still say, for ``hostsfile.merge``."""
        found: Dict[str, str] = {}
        for name, address in self._common:
            found.setdefault(name, address)
        return found

    def replica_run(self) -> Tuple[Pair, ...]:
        """Every replica's names, in the order ``for_service`` gives them after the service names:
        the long run of lines every container's /etc/hosts holds alike (see ``KnownNames``)."""
        return self._common[self._run:]

    def first(self, service: str):
        """The address a bare ``service`` points at in /etc/hosts (its lowest-numbered replica), or None."""
        return self._first.get(service)

    def for_service(self, service: str, given: Iterable[Pair] = ()) -> Tuple[Pair, ...]:
        """The extra_hosts of a replica of ``service``: ``given`` (the service's own) first, then its
        link aliases, then the project's names; each name once."""
        given = tuple(given)
        found = self._made.get((service, given))
        if found is None:
            if len(self._made) >= MADE_KEPT:
                self._made.clear()
            found = self._made[(service, given)] = self._for_service(service, given)
        return found

    def _shares_all(self, service: str) -> bool:
        """Whether ``service`` shares a compose network with every service that has names here (the
        usual project, all on ``default``): then its names are the shared run, copied as slices."""
        shared = self._sharing.get(service)
        if shared is None:
            shared = self._sharing[service] = all(shares_network(self.project, service, other)
                                                  for other in self._replicas)
        return shared

    def _for_service(self, service: str, given: Tuple[Pair, ...]) -> Tuple[Pair, ...]:
        spec = self.project.service(service)
        aliases = [(link.alias, self._first[link.service]) for link in spec.links
                   if link.service in self._first and shares_network(self.project, service, link.service)]
        out: List[Pair] = list(given)  # kept as written: a name given twice on purpose stays twice
        seen = {name for name, _ in out}
        if self.everyone and self._unique is not None and self._shares_all(service):
            for name, address in [(validate_name(a), ip) for a, ip in aliases]:
                if name not in seen:
                    seen.add(name)
                    out.append((name, address))
            # every shared name is there once: leave out those already given, and copy the rest
            # as slices (a large project's list is long, the names left out few)
            made, after = tuple(out), 0
            for cut in sorted(self._unique[name] for name in seen if name in self._unique):
                made += self._common[after:cut]
                after = cut + 1
            return made + self._common[after:]
        if self.everyone:
            # only the services this one shares a compose network with, as on one Docker host
            shared = [pair for name, head in self._heads.items() if shares_network(self.project, service, name)
                      for pair in head]
            shared += [pair for name in sorted(self._replicas) if shares_network(self.project, service, name)
                       for pair in self._replicas[name]]
        else:
            targets = sorted({link.service for link in spec.links} | {dep.service for dep in spec.depends_on})
            shared = [pair for target in targets if shares_network(self.project, service, target)
                      for pair in self._replicas.get(target, ())]
        for name, address in [(validate_name(a), ip) for a, ip in aliases] + shared:
            if name not in seen:
                seen.add(name)
                out.append((name, address))
        return tuple(out)
