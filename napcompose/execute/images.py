"""The handlers of the actions on images: build on one host, copy from the host that has it, pull from a registry."""

from __future__ import annotations

from napcompose.errors import NapComposeError
from napcompose.execute.state import RunState
from napcompose.imageref import registry_of
from napcompose.planner import BuildImage, CopyImage, Pull, PushImage
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


def pull(state: RunState, action: Pull) -> None:
    """Pull the (pinned) image onto the host with the operator's credentials for its registry; one
    progress line per layer step, so a slow host shows where it is. A host that holds the digest
    already is up to date: the content behind a digest never changes.

    The tag is then set to that digest on the host too, so the next run's ``missing`` policy finds
    the tag there and keeps running this digest instead of asking the registry again."""
    core = state.core
    engine = core.engines[action.host]
    detail = f"{core.detail(action.host, None)} ({action.image})"
    core.reporter.progress(action.service, action.verb, "started", detail)
    status = "done"
    try:
        pinned = "@" in action.image
        if pinned and engine.image_id(action.image) is not None:
            status = "up to date"
        else:
            engine.pull(action.image, core.credentials(registry_of(action.image)),
                        lambda line: core.reporter.progress(action.service, action.verb, line, detail))
        if pinned and action.tag and "@" not in action.tag:
            engine.tag_image(action.image, action.tag)
    except NapComposeError:
        core.reporter.progress(action.service, action.verb, "error", detail)
        raise
    core.reporter.progress(action.service, action.verb, status, detail)


def push_image(state: RunState, action: PushImage) -> None:
    """Push the image from its host with the operator's credentials for its registry; the line that
    ends it names the digest the registry gave it."""
    core = state.core
    detail = f"{core.detail(action.host, None)} ({action.image})"
    core.reporter.progress(action.service, action.verb, "started", detail)
    try:
        digest = core.engines[action.host].push(action.image, core.credentials(registry_of(action.image)))
    except NapComposeError:
        core.reporter.progress(action.service, action.verb, "error", detail)
        raise
    core.reporter.progress(action.service, action.verb, f"done: {digest}" if digest else "done", detail)
