"""The service dependency graph: who must start before whom.

Edges point from a consumer to what it needs (``web -> db`` when web links to db). Sources: links,
depends_on, volumes_from and ``network_mode``/``ipc``/``pid: service:X``. ``external_links`` name
containers outside the project and stay out of the graph.
"""

from __future__ import annotations

from napcompose.errors import DependencyCycleError

# networkx is imported inside the functions that build a DiGraph: importing it takes most of a
# second on a loaded machine, and the commands that only need start order (ps, up, down) get it
# from the plain maps below. A cycle is still named through networkx, on the error path.


def service_ref(value):
    """The service named by ``service:X`` (network_mode, ipc, pid), else None."""
    if isinstance(value, str) and value.startswith("service:"):
        return value[len("service:"):]
    return None


def volumes_from_service(entry):
    """The service of a ``volumes_from`` entry, or None for ``container:X``."""
    if entry.startswith("container:"):
        return None
    return entry.split(":", 1)[0]


def edges_of(spec):
    """(dependency, kind) pairs of one ServiceSpec; kind is link, depends_on, volumes_from, network_mode,
    ipc or pid. Names are as written: they may name services that do not exist."""
    for link in spec.links:
        yield link.service, "link"
    for dep in spec.depends_on:
        yield dep.service, "depends_on"
    for entry in spec.volumes_from:
        name = volumes_from_service(entry)
        if name is not None:  # '' too: config's checks refuse it as an undefined service
            yield name, "volumes_from"
    for key in ("network_mode", "ipc", "pid"):
        name = service_ref(getattr(spec, key))
        if name is not None:
            yield name, key


def needs_map(project):
    """{service: its dependencies, in edge order}; names a spec mentions but the project lacks are
    keys too (with no dependencies), as they are nodes of ``build_graph``'s DiGraph."""
    needs = {name: [] for name in project.service_names}
    for spec in project.services:
        mine = needs[spec.name]
        for dep, _ in edges_of(spec):
            needs.setdefault(dep, [])
            if dep not in mine:
                mine.append(dep)
    return needs


def _generations(needs):
    """Kahn's layers of ``needs``: each layer only needs earlier ones. Returns (layers, all placed)."""
    waiting = {name: len(deps) for name, deps in needs.items()}
    users = {name: [] for name in needs}
    for name, deps in needs.items():
        for dep in deps:
            users[dep].append(name)
    layer = [name for name, count in waiting.items() if count == 0]
    layers, placed = [], 0
    while layer:
        layers.append(layer)
        placed += len(layer)
        following = []
        for done in layer:
            for user in users[done]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    following.append(user)
        layer = following
    return layers, placed == len(needs)


def check_project_acyclic(project) -> None:
    """Raise DependencyCycleError naming a loop of ``project``'s services, if there is one."""
    _, acyclic = _generations(needs_map(project))
    if not acyclic:
        check_acyclic(build_graph(project))


def build_graph(project) -> "nx.DiGraph":
    """A DiGraph over the project's services; edge consumer -> dependency, attribute ``kinds``."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(project.service_names)
    for spec in project.services:
        for dep, kind in edges_of(spec):
            if graph.has_edge(spec.name, dep):
                graph.edges[spec.name, dep]["kinds"] += (kind,)
            else:
                graph.add_edge(spec.name, dep, kinds=(kind,))
    return graph


def _cycle(graph):
    """One cycle, chosen deterministically (the loop through the smallest name that is on one), or None."""
    import networkx as nx

    if nx.is_directed_acyclic_graph(graph):
        return None
    looped = [c for c in nx.strongly_connected_components(graph)
              if len(c) > 1 or graph.has_edge(next(iter(c)), next(iter(c)))]
    component = min(looped, key=min)
    start = min(component)
    found = nx.find_cycle(graph.subgraph(component), source=start)
    names = [edge[0] for edge in found]
    first = names.index(min(names))
    names = names[first:] + names[:first]
    return names + [names[0]]


def check_acyclic(graph) -> None:
    cycle = _cycle(graph)
    if cycle:
        raise DependencyCycleError(cycle)


def start_waves(project):
    """Services in start order: each wave only needs earlier waves; names sorted within a wave.

    Raises DependencyCycleError naming the loop (``web -> api -> web``).
    """
    layers, acyclic = _generations(needs_map(project))
    if not acyclic:
        check_acyclic(build_graph(project))
    return tuple(tuple(sorted(layer)) for layer in layers)


def stop_waves(project):
    """Start waves reversed: consumers stop before what they need."""
    return tuple(reversed(start_waves(project)))


def dependencies(project, service):
    """Every service ``service`` needs, directly or not."""
    import networkx as nx

    graph = build_graph(project)
    return set(nx.descendants(graph, service))


def dependents(project, service):
    """Every service that needs ``service``, directly or not."""
    import networkx as nx

    graph = build_graph(project)
    return set(nx.ancestors(graph, service))


def direct_dependencies(spec):
    """The services ``spec`` needs started first (its out-edges), whatever the kind of edge."""
    return {name for name, _ in edges_of(spec)}


def with_dependencies(project, services):
    """``services`` plus every service of the project they need, directly or not."""
    needs = needs_map(project)
    chosen = set(services)
    # One walk from every start at once: a service reached before is not walked again, so a chain
    # of S services costs S steps, not S per start.
    stack = []
    for name in services:
        if name not in needs:
            import networkx as nx

            nx.descendants(build_graph(project), name)  # raises as it always did for a name the graph lacks
        stack.append(name)
    seen = set(stack)
    while stack:
        for dep in needs[stack.pop()]:
            if dep not in seen:
                seen.add(dep)
                chosen.add(dep)
                stack.append(dep)
    return {name for name in chosen if name in project.service_names}
