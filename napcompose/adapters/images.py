"""Images without a registry: build on a host's daemon, copy between daemons, ask who has what.

A copy streams the source daemon's ``GET /images/{name}/get`` tar straight into the destination's
``POST /images/load`` (chunked), so the image never lands in a file on the machine running
nap-compose. Save/load keeps the image id, so "same id on both hosts" means "same image".
Every SDK failure leaves here as a HostError naming the host and the image.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import deque
from typing import Callable, Iterator, List, Optional

from napcompose.adapters.sdk_errors import cause, sdk_errors
from napcompose.errors import ConfigError, HostError, NapComposeError
from napcompose.model import BuildSpec
from napcompose.ports import NullReporter, Reporter

# A build context's list of its generated files: ``PATH STEP`` per line, e.g. ``rootfs/ ../make-rootfs``.
GENERATED_FILE = ".nap-generated"
# Enough of a failed build's output to show which step broke, not the whole log.
_BUILD_TAIL_LINES = 8


def _where(client, host: Optional[str]) -> str:
    """The host name to put in an error: the one given, else the client's URL."""
    return host or getattr(getattr(client, "api", None), "base_url", "") or "docker host"


@contextlib.contextmanager
def _calling(host: str, what: str):
    try:
        yield
    except NapComposeError:
        raise
    except sdk_errors() as exc:
        raise HostError(host, f"{what}: {cause(exc)}") from exc


def _stream_error(chunk: dict) -> Optional[str]:
    detail = chunk.get("errorDetail") or {}
    message = chunk.get("error") or detail.get("message")
    return str(message).strip() if message else None


# ---------------------------------------------------------------------------- the three primitives


def present(client, tag: str, *, host: Optional[str] = None) -> bool:
    """True when the daemon behind ``client`` has the image ``tag``."""
    return image_id(client, tag, host=host) is not None


def image_id(client, tag: str, *, host: Optional[str] = None) -> Optional[str]:
    """The image id (``sha256:…``) of ``tag`` on that daemon, or None when it has no such image."""
    import docker.errors

    where = _where(client, host)
    with _calling(where, f"inspect image {tag}"):
        try:
            return client.api.inspect_image(tag)["Id"]
        except docker.errors.ImageNotFound:
            return None


def build_kwargs(spec: BuildSpec, no_cache: bool = False) -> dict:
    """docker-py ``api.build`` arguments of ``spec`` (besides the context, tag and stream handling).

    ``no_cache`` is the command line's ``--no-cache``; the file's ``build.no_cache`` asks the same.
    Base images are pulled only when the file says ``build.pull``: otherwise the building host's own
    copies are used, pulled by the engine when it lacks them.
    """
    return dict(dockerfile=spec.dockerfile, nocache=no_cache or spec.no_cache, pull=spec.pull,
                buildargs=dict(spec.args) or None, target=spec.target, labels=dict(spec.labels) or None,
                cache_from=list(spec.cache_from) or None, network_mode=spec.network, shmsize=spec.shm_size,
                extra_hosts=dict(spec.extra_hosts) or None)


def build(client, spec: BuildSpec, tag: str, reporter: Reporter = NullReporter(), *,
          host: Optional[str] = None, no_cache: bool = False) -> str:
    """Build ``spec`` on the daemon behind ``client``, tag it ``tag``; return the image id.

    The context is checked here first (ConfigError naming the path); a failed build is a HostError
    carrying the daemon's message and the last lines of the build output.
    """
    where = _where(client, host)
    context = spec.context
    if not os.path.isdir(context):
        raise ConfigError(f"build context {context} for image {tag} is not a directory")
    dockerfile = spec.dockerfile or "Dockerfile"
    if not os.path.isfile(os.path.join(context, dockerfile)):
        raise ConfigError(f"build context {context} for image {tag} has no {dockerfile}")
    missing = missing_input(context, dockerfile)
    if missing:
        raise ConfigError(f"build context {context} for image {tag} lacks {missing}")
    tail: deque = deque(maxlen=_BUILD_TAIL_LINES)
    with _calling(where, f"build {tag} from {context}"):
        # decode=True gives one dict per JSON message of the build stream
        stream = client.api.build(path=context, tag=tag, rm=True, forcerm=True, decode=True,
                                  **build_kwargs(spec, no_cache=no_cache))
        for chunk in stream:
            error = _stream_error(chunk)
            if error:
                # the last output lines, indented so that they read as part of this one error
                output = "".join("\n    " + line for line in "".join(tail).splitlines() if line.strip())
                raise HostError(where, f"build {tag} from {context} failed: {error}{output}")
            text = chunk.get("stream")
            if text:
                tail.append(text)
                if text.startswith("Step "):
                    reporter.progress(tag, "Building", "running", text.strip())
    found = image_id(client, tag, host=where)
    if found is None:
        raise HostError(where, f"build {tag} from {context} ended without an image tagged {tag}")
    return found


def _copy_sources(line: str) -> List[str]:
    """The context paths a ``COPY``/``ADD`` line reads (none for ``--from``, URLs, globs, variables)."""
    words = line.split(None, 1)
    rest = words[1].strip() if len(words) > 1 else ""
    if rest.startswith("["):
        try:
            items = [str(item) for item in json.loads(rest)]
        except ValueError:
            return []
    else:
        items = rest.split()
    if any(item.startswith("--from") for item in items):
        return []
    items = [item for item in items if not item.startswith("--")][:-1]
    return [item for item in items
            if "://" not in item and not item.startswith("git@") and not any(c in item for c in "*?[$")]


def missing_input(context: str, dockerfile: str = "Dockerfile") -> Optional[str]:
    """The first file a ``COPY``/``ADD`` of the Dockerfile needs that the context lacks, as a sentence
    naming the Dockerfile's line and, when the context's GENERATED_FILE lists it, the step that makes it."""
    with open(os.path.join(context, dockerfile), errors="replace") as fh:
        text = fh.read()
    number, pending = 0, ""
    for index, raw in enumerate(text.splitlines(), 1):
        if not pending:
            number = index
        stripped = raw.strip()
        if stripped.startswith("#") and not pending:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        line, pending = (pending + stripped).strip(), ""
        if line.split(None, 1)[:1] and line.split(None, 1)[0].upper() in ("COPY", "ADD"):
            for source in _copy_sources(line):
                if not os.path.lexists(os.path.join(context, source)):
                    return f"{source} ({dockerfile} line {number}: {line}){_how_made(context, source)}"
    return None


def _how_made(context: str, source: str) -> str:
    """How the context says ``source`` is made (a ``PATH STEP`` line of its GENERATED_FILE), as a clause."""
    listing = os.path.join(context, GENERATED_FILE)
    wanted = os.path.normpath(source)
    try:
        with open(listing) as fh:
            for line in fh:
                path, _, step = line.strip().partition(" ")
                path = os.path.normpath(path) if path and not path.startswith("#") else None
                if path and step.strip() and (wanted == path or wanted.startswith(path + "/")):
                    return f": it is generated: run `{step.strip()}` in {context} first (its {GENERATED_FILE} says so)"
    except OSError:
        pass
    return (f"; if a step generates it, a line `{source} <the step>` in {GENERATED_FILE} of the context lets "
            "this error name the step")


def copy(src_client, dst_client, tag: str, *, src_host: Optional[str] = None,
         dst_host: Optional[str] = None) -> None:
    """Put image ``tag`` from the source daemon onto the destination daemon (save → load, streamed)."""
    src = _where(src_client, src_host)
    dst = _where(dst_client, dst_host)
    source_failure: List[BaseException] = []

    def saved() -> Iterator[bytes]:
        # A failure of the source shows up inside the destination's upload; keep it to blame the
        # right host below.
        try:
            for chunk in src_client.api.get_image(tag):
                if chunk:
                    yield chunk
        except BaseException as exc:
            source_failure.append(exc)
            raise

    if image_id(src_client, tag, host=src) is None:
        raise HostError(src, f"image {tag} is not there to copy")
    try:
        with _calling(dst, f"load image {tag} from {src}"):
            for chunk in dst_client.api.load_image(saved()):
                error = _stream_error(chunk) if isinstance(chunk, dict) else None
                if error:
                    raise HostError(dst, f"load image {tag} from {src}: {error}")
    except HostError:
        if source_failure:
            exc = source_failure[0]
            raise HostError(src, f"save image {tag} for {dst}: {cause(exc)}") from exc
        raise


# ---------------------------------------------------------------------------- the port


class DockerImages:
    """ports.ImageTransfer over the hosts' Docker clients (``HostConnections.docker``)."""

    def __init__(self, docker_for: Callable[[str], object], reporter: Reporter = NullReporter()):
        self._docker_for = docker_for
        self._reporter = reporter

    def build(self, host: str, spec: BuildSpec, tag: str, no_cache: bool = False) -> str:
        return build(self._docker_for(host), spec, tag, self._reporter, host=host, no_cache=no_cache)

    def copy(self, image: str, source: str, target: str) -> None:
        copy(self._docker_for(source), self._docker_for(target), image, src_host=source, dst_host=target)

    def image_id(self, host: str, image: str) -> Optional[str]:
        return image_id(self._docker_for(host), image, host=host)
