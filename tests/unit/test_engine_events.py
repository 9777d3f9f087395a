"""Docker's event stream turned into ContainerEvent values (the adapter's pure part)."""

from napcompose.adapters.docker_engine import _api_time, _event
from napcompose.model import ContainerEvent, Replica


def raw(action, **attributes):
    return {"Type": "container", "Action": action, "status": action, "id": "abc123",
            "Actor": {"ID": "abc123", "Attributes": dict(name="gb_web_1", image="busybox", **attributes)},
            "time": 1_800_000_000, "timeNano": 1_800_000_000_250_000_000}


LABELS = {"com.docker.compose.project": "gb", "com.docker.compose.service": "web",
          "com.docker.compose.container-number": "1"}


def test_a_die_carries_its_exit_code_and_the_replica_from_the_labels():
    assert _event("node1", raw("die", exitCode="137", **LABELS)) == ContainerEvent(
        1_800_000_000.25, "node1", "abc123", "gb_web_1", "die", Replica("gb", "web", 1), 137)


def test_a_container_without_compose_labels_has_no_replica():
    event = _event("node2", raw("start"))
    assert (event.replica, event.exit_code, event.host) == (None, None, "node2")


def test_other_actions_and_types_are_left_out():
    assert _event("node1", raw("exec_start: sh")) is None
    assert _event("node1", dict(raw("start"), Type="network")) is None


def test_times_go_to_docker_as_fixed_point_seconds():
    assert _api_time(1_800_000_000.25) == "1800000000.250000000"
    assert "e" not in _api_time(1e9)
