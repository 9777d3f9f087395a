"""Image planning: each image is planned once, however many services share it."""

import pytest

from napcompose.errors import ConfigError
from napcompose.model import Placement, Project, Replica, ServiceSpec
from napcompose.planner.actions import CopyImage
from napcompose.planner.images import plan_images


def _shared_image_project():
    services = (ServiceSpec(name="cache", image="redis:7"), ServiceSpec(name="queue", image="redis:7"))
    placement = Placement(tuple(sorted(
        [(Replica("p", "cache", 1), "node1"), (Replica("p", "cache", 2), "node2"),
         (Replica("p", "queue", 1), "node2"), (Replica("p", "queue", 2), "node3")],
        key=lambda pair: (pair[0].service, pair[0].index))))
    return Project(name="p", services=services), placement


def test_two_services_of_one_image_copy_it_once_per_host():
    project, placement = _shared_image_project()
    present = {("node1", "redis:7"): "sha256:aa", ("node2", "redis:7"): None, ("node3", "redis:7"): None}
    builds, copies, _ = plan_images(project, placement, {"cache", "queue"}, present, set())
    assert builds == ()
    assert [(c.source, c.host) for c in copies] == [("node1", "node2"), ("node1", "node3")]
    assert all(isinstance(c, CopyImage) and c.image == "redis:7" for c in copies)


def test_an_image_missing_everywhere_is_reported_once_per_host():
    project, placement = _shared_image_project()
    present = {(h, "redis:7"): None for h in ("node1", "node2", "node3")}
    with pytest.raises(ConfigError) as err:
        plan_images(project, placement, {"cache", "queue"}, present, set())
    lines = str(err.value).splitlines()[1:-1]
    assert lines == ["  service cache, queue: image redis:7 is missing on node2",
                     "  service cache: image redis:7 is missing on node1",
                     "  service queue: image redis:7 is missing on node3"]
