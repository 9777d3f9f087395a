"""Dashboard pages from hand-made Snapshots: what each view shows, filters, and escaping everywhere."""

import json
from html.parser import HTMLParser

import pytest

from napcompose.dashboard.render import content, page, state_json
from napcompose.dashboard.snapshot import (AllocationView, ContainerView, DriftView, HostView, PoolView,
                                           Snapshot)
from napcompose.dashboard.views import VIEWS, chosen
from napcompose.graphview import ReplicaNode, ServiceGraph
from napcompose.graphview.layout import Edge
from napcompose.model import ContainerEvent, Replica

EVIL = '<b>x</b><script>alert(1)</script>"\'&'


class Tree(HTMLParser):
    """Every start tag and the text of each element with a class, as a browser would parse them."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self._open = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def snapshot(evil=""):
    containers = (
        ContainerView("gb_web_1", "gb", "web", 1, "node1", "198.18.0.101", "running", "healthy",
                      ("0.0.0.0:80->80/tcp",), "Up 5 minutes (healthy)"),
        ContainerView("gb_db_1", "gb", "db", 1, "node2", "198.18.0.102", "exited", "", (),
                      "Exited (137) 2 seconds ago"),
        ContainerView("other_web_1", "other", "web", 1, "node2", "198.18.0.103", "running", "", (), "Up 1 hour"),
        ContainerView("odd_1", evil or "odd", evil or "svc", 1, evil or "node3", evil or "198.18.0.104",
                      evil or "running", evil, (evil,) if evil else (), evil),
    )
    hosts = (HostView("node1", "198.18.0.1", (("zone", "a"),), "198.18.0.16/28", True, None, 1),
             HostView("node2", "198.18.0.2", (("zone", evil or "b"),), None, True, None, 2),
             HostView(evil or "node3", "198.18.0.3", (), None, False, evil or "connection refused", 1))
    pool = PoolView("198.18.0.100-198.18.0.199", 100,
                    (AllocationView("198.18.0.101", "gb/web/1", "node1", "bound", 1_800_000_000.0),
                     AllocationView("198.18.0.102", "gb/db/1", "node2", "bound", 1_800_000_000.0),
                     AllocationView("198.18.0.110", evil or "manual", evil, "reserved", 1_800_000_000.0)),
                    (("node1", "198.18.0.16/28"),))
    graph = ServiceGraph("gb", ("web", "db"), (("db",), ("web",)), (Edge("web", "db", ("link",)),),
                         (ReplicaNode(Replica("gb", "web", 1), "node1", "198.18.0.101", "running"),),
                         ("node1", "node2", evil or "node3"))
    events = (ContainerEvent(1_800_000_100.0, "node2", "c1", "gb_db_1", "die", Replica("gb", "db", 1), 137),
              ContainerEvent(1_800_000_050.0, "node1", "c0", evil or "gb_web_1", "start",
                             Replica(evil or "gb", "web", 1)))
    drift = DriftView("gb", (("gb_web_1", "node1", "managed block missing"),), (evil,) if evil else ())
    return Snapshot(1_800_000_200.0, hosts, containers, pool, drift, tuple(sorted(events, key=lambda e: e.time)),
                    "gb", graph, None, (evil,) if evil else ())


def test_containers_view_shows_every_column_and_filters():
    html = content(snapshot(), "containers", {})
    for text in ("gb_web_1", "node1", "198.18.0.101", "healthy", "0.0.0.0:80-&gt;80/tcp", "5 minutes",
                 "4 containers, 3 running"):
        assert text in html
    only = content(snapshot(), "containers", {"project": "gb", "host": "node2"})
    assert "gb_db_1" in only and "gb_web_1" not in only and "other_web_1" not in only
    assert "1 containers, 0 running (only project gb, host node2)" in only
    assert [c.name for c in chosen(snapshot().containers, {"service": "web"})] == ["gb_web_1", "other_web_1"]


def test_every_view_renders_its_facts():
    snap = snapshot()
    assert "unreachable" in content(snap, "hosts", {}) and "zone=a" in content(snap, "hosts", {})
    assert "198.18.0.16/28" in content(snap, "hosts", {})
    pool = content(snap, "pool", {})
    assert "3 of 100 addresses used, 97 free" in pool and "Host blocks" in pool
    assert 'data-from="web" data-to="db"' in content(snap, "graph", {})
    assert "gb_web_1</td><td>node1</td><td>managed block missing" in content(snap, "drift", {})
    events = content(snap, "events", {})
    assert events.index("gb_db_1") < events.index("gb_web_1")  # newest first
    assert "<td>2027-01-15 08:01:40 UTC</td><td>node2</td>" in events and "<td>137</td>" in events


def test_views_without_a_project_say_how_to_get_one():
    snap = snapshot()
    bare = Snapshot(snap.taken_at, snap.hosts, snap.containers, snap.pool, DriftView(None), (), None, None)
    assert "-f FILE" in content(bare, "graph", {}) and "-f FILE" in content(bare, "drift", {})


@pytest.mark.parametrize("view", VIEWS)
def test_markup_from_labels_and_names_is_text_in_every_view(view):
    html = page(snapshot(EVIL), view, {"project": EVIL} if view == "containers" else {})
    tree = Tree(html)
    assert not [t for t, _ in tree.tags if t in ("b", "script") and _ != {"src": "/static/app.js", "defer": None}]
    assert [a for t, a in tree.tags if t == "script"] == [{"src": "/static/app.js", "defer": None}]
    for _, attrs in tree.tags:
        assert not any(name.startswith("on") for name in attrs)
    assert "<b>x</b>" not in html


def test_markup_reaches_the_reader_as_the_same_text():
    tree = Tree(content(snapshot(EVIL), "containers", {}))
    assert EVIL in tree.text  # a browser shows exactly the label's characters


def test_the_page_loads_only_local_assets_and_json_is_the_snapshot():
    html = page(snapshot(), "containers", {})
    urls = [a.get("href") or a.get("src") for t, a in Tree(html).tags if t in ("link", "script")]
    assert urls == ["/static/style.css", "/static/icon.svg", "/static/app.js"]
    assert "http" not in "".join(urls)
    data = json.loads(state_json(snapshot()))
    assert data["containers"][0]["name"] == "gb_web_1" and data["graph"]["edges"][0]["dependency"] == "db"


def test_an_unknown_view_is_a_key_error():
    with pytest.raises(KeyError):
        page(snapshot(), "secrets", {})
