"""Image references as Docker reads them: registry, repository, tag, digest. Pure.

``198.18.1.254:5000/nap-lab/busybox:latest`` has the registry ``198.18.1.254:5000``, the
repository ``198.18.1.254:5000/nap-lab/busybox`` and the tag ``latest``; ``postgres:16`` lives
on Docker Hub (``docker.io``). A pinned reference names its content: ``repository@sha256:…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

DOCKER_HUB = "docker.io"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    """One parsed reference; ``repository`` is written as in the reference (with its registry, if any)."""

    registry: str
    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    def at(self, digest: str) -> str:
        """The reference of the content ``digest`` in this repository: ``repository@digest``."""
        return f"{self.repository}@{digest}"

    def __str__(self) -> str:
        if self.digest:
            return self.at(self.digest)
        return f"{self.repository}:{self.tag or 'latest'}"


def parse_image(reference: str) -> ImageRef:
    """The parts of ``reference``; a reference without tag or digest means ``:latest``, as in Docker."""
    name, _, digest = reference.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"image {reference!r}: {digest!r} is not a digest (algorithm:hex)")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else DOCKER_HUB
    return ImageRef(registry, name, tag or (None if digest else "latest"), digest or None)


def registry_of(reference: str) -> str:
    """The registry an image is pulled from (``docker.io`` for a name without one)."""
    return parse_image(reference).registry


def repo_digest_of(reference: str, repo_digests) -> Optional[str]:
    """The digest among a local image's ``RepoDigests`` (``repo@sha256:…``) that belongs to
    ``reference``'s repository, or None: an image pushed to two registries has one per repository."""
    repository = parse_image(reference).repository
    for entry in repo_digests or ():
        repo, sep, digest = entry.partition("@")
        if sep and _same_repository(repo, repository):
            return digest
    return None


def _same_repository(a: str, b: str) -> bool:
    """Docker writes Hub repositories short (``postgres``) in RepoDigests; compare as Docker does."""
    def full(name: str) -> str:
        if parse_image(name).registry != DOCKER_HUB or name.startswith(DOCKER_HUB + "/"):
            return name
        return f"{DOCKER_HUB}/{name if '/' in name else 'library/' + name}"
    return full(a) == full(b)
