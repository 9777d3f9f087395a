"""The one options object: parsed once by the CLI, read by the planner and by the executor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Options:
    """Everything a deploy command was asked to do differently from its defaults.

    ``timeout``: seconds a stop waits before Docker kills the container (``-t``); None keeps
    Docker's default (10 s, or the service's ``stop_grace_period``). ``scales``: (service, count)
    pairs that override the file's scale. ``build``: build images of services with ``build:``
    even when the hosts have them. ``stop_first`` and ``force`` are ``rm``'s ``-s`` and the
    engine's forced removal; ``signal`` is ``kill -s``. ``rolling``: a changed service is updated
    batch by batch per its ``update_config`` (False: ``--no-rolling``, every replica at once);
    ``prune_previous``: remove the containers kept from earlier updates for a rollback.
    ``no_cache`` and ``image_strategy`` are ``build``'s ``--no-cache`` and ``--strategy``
    (planner/build.py: ``copy`` or ``build-each``). ``wait``: ``up --wait`` / ``start --wait``, the
    run ends by waiting until every started replica runs and is healthy, at most ``wait_timeout``
    seconds each (None: as long as it takes). ``pull``: ``up --pull`` (always, missing,
    never, build), over every service's ``pull_policy``; None keeps each service's own.
    ``push``: ``build --push``, the built images go to their registry instead of to the other hosts.
    """

    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    services: Tuple[str, ...] = ()  # empty: every service
    no_deps: bool = False
    start: bool = True
    timeout: Optional[float] = None
    scales: Tuple[Tuple[str, int], ...] = ()
    build: bool = False
    stop_first: bool = False
    force: bool = False
    signal: str = "SIGKILL"
    rolling: bool = True
    prune_previous: bool = False
    no_cache: bool = False
    image_strategy: str = "copy"
    wait: bool = False
    wait_timeout: Optional[float] = None
    pull: Optional[str] = None
    push: bool = False
    volumes: bool = False  # down -v: the project's named volumes go too; rm -v: the anonymous ones
    # the reconciler's passes: a running replica Docker reports unhealthy (its healthcheck failed
    # past its retries) is recreated, unless its service's restart policy is "no"
    replace_unhealthy: bool = False

    @property
    def scale_of(self) -> Dict[str, int]:
        return dict(self.scales)

