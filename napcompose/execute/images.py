"""The handlers of the actions on images: build on one host, copy from the host that has it."""

from __future__ import annotations

from napcompose.errors import NapComposeError
from napcompose.execute.state import RunState
from napcompose.planner import BuildImage, CopyImage
from napcompose.ports import ImageTransfer


def _image_port(state: RunState) -> ImageTransfer:
    if state.core.images is None:
        raise NapComposeError("no way to move images was given to this run")
    return state.core.images


def build_image(state: RunState, action: BuildImage) -> None:
    spec = state.project.service(action.service)
    state.core.step(action.service, action.verb, action.host, None,
                    lambda: _image_port(state).build(action.host, spec.build, action.image, no_cache=action.no_cache))


def copy_image(state: RunState, action: CopyImage) -> None:
    images, reporter = _image_port(state), state.core.reporter
    detail = f"{action.image} from {action.source} to {action.host}"
    reporter.progress(action.service, action.verb, "started", detail)
    try:
        wanted = images.image_id(action.source, action.image)
        if wanted is not None and images.image_id(action.host, action.image) == wanted:
            reporter.progress(action.service, action.verb, "up to date", detail)
            return
        images.copy(action.image, action.source, action.host)
    except NapComposeError:
        reporter.progress(action.service, action.verb, "error", detail)
        raise
    reporter.progress(action.service, action.verb, "done", detail)
