"""What the reconciler keeps in the store: the projects it keeps, and what it did to them.

``<prefix>/keep/<project>`` holds a kept project's compose files as ``up --keep`` read them (their
text, the variables they use and the project's directory), so the reconciler loads the same project
without the operator's disk. ``<prefix>/reconciler/log/<project>`` holds the last ``LOG_LENGTH``
things the reconciler did to the project and why (host lost, replica moved, container replaced),
appended with compare-and-swap so two writers never lose each other's lines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from napcompose.errors import ConfigError, StoreError, UsageError

LOG_LENGTH = 50
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# ${VAR}, ${VAR:-x}, $VAR: the variables a compose file reads from the environment
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# what decides which files and profiles a project is made of
_COMPOSE_VARIABLES = ("COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME")


def _checked(project: str) -> str:
    if not _PROJECT.match(project or ""):
        raise UsageError(f"invalid project name '{project}': use a-z, 0-9, '-' and '_'")
    return project


def keep_key(prefix: str, project: str) -> str:
    return f"{prefix.rstrip('/')}/keep/{_checked(project)}"


def log_key(prefix: str, project: str) -> str:
    return f"{prefix.rstrip('/')}/reconciler/log/{_checked(project)}"


def used_variables(texts: Tuple[Tuple[str, str], ...], environ: Dict[str, str]) -> Tuple[Tuple[str, str], ...]:
    """The variables of ``environ`` the compose texts name, and those that choose profiles and name:
    what the files read, and nothing else of the operator's environment (it may hold secrets)."""
    names = {m.group(1) for _, text in texts for m in _VARIABLE.finditer(text)} | set(_COMPOSE_VARIABLES)
    return tuple(sorted((k, v) for k, v in environ.items() if k in names))


@dataclass(frozen=True)
class KeepRecord:
    """A project the reconciler keeps as declared, as ``up --keep`` loaded it."""

    project: str
    working_dir: str
    files: Tuple[Tuple[str, str], ...]  # (name as up read it, text), in order: later ones override
    environ: Tuple[Tuple[str, str], ...]  # the variables the files use, as up saw them
    profiles: Tuple[str, ...] = ()
    services: Tuple[str, ...] = ()  # the services up named (empty: every one)
    scales: Tuple[Tuple[str, int], ...] = ()  # up's --scale
    by: str = ""  # who asked: user@machine
    since: float = 0.0

    def dump(self) -> str:
        return json.dumps({"project": self.project, "working_dir": self.working_dir,
                           "files": [list(f) for f in self.files], "environ": dict(self.environ),
                           "profiles": list(self.profiles), "services": list(self.services), "scales": dict(self.scales), "by": self.by,
                           "since": self.since}, sort_keys=True)

    @staticmethod
    def load(text: str, key: str) -> "KeepRecord":
        """The record; ConfigError naming the key when the value is not one."""
        try:
            data = json.loads(text)
            return KeepRecord(str(data["project"]), str(data["working_dir"]),
                              tuple((str(n), str(t)) for n, t in data["files"]),
                              tuple(sorted((str(k), str(v)) for k, v in data["environ"].items())),
                              tuple(str(p) for p in data.get("profiles") or ()),
                              tuple(str(s) for s in data.get("services") or ()),
                              tuple(sorted((str(k), int(v)) for k, v in (data.get("scales") or {}).items())),
                              str(data.get("by") or ""), float(data.get("since") or 0.0))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"the kept project record {key} is not readable ({exc}); "
                              "run `nap-compose up --keep` for that project again") from None


class KeptProjects:
    """The keep records of one cluster, over the KeyValueStore port."""

    def __init__(self, store, prefix: str):
        self._store = store
        self._prefix = prefix.rstrip("/")

    def keep(self, record: KeepRecord) -> None:
        """Record (or replace) ``record``."""
        key = keep_key(self._prefix, record.project)
        for _ in range(20):
            found = self._store.get(key)
            if found is None:
                if self._store.create(key, record.dump()) is not None:
                    return
            elif self._store.compare_and_swap(key, record.dump(), found[1]) is not None:
                return
        raise StoreError(f"the record {key} kept changing while being written; run it again")

    def drop(self, project: str) -> bool:
        """Stop keeping ``project``; False when it was not kept."""
        key = keep_key(self._prefix, project)
        for _ in range(20):
            found = self._store.get(key)
            if found is None:
                return False
            if self._store.compare_and_delete(key, found[1]):
                return True
        raise StoreError(f"the record {key} kept changing while being removed; run it again")

    def get(self, project: str) -> Optional[KeepRecord]:
        key = keep_key(self._prefix, project)
        found = self._store.get(key)
        return KeepRecord.load(found[0], key) if found else None

    def all(self) -> List[Tuple[str, object]]:
        """(project, KeepRecord, or the ConfigError of an unreadable record), by project name."""
        found = []
        for key, (text, _) in sorted(self._store.list(f"{self._prefix}/keep/").items()):
            try:
                found.append((key.rsplit("/", 1)[1], KeepRecord.load(text, key)))
            except ConfigError as exc:
                found.append((key.rsplit("/", 1)[1], exc))
        return found


# ---------------------------------------------------------------------------- the log


HOST_LOST = "host lost"
HOST_BACK = "host back"
MOVED = "replica moved"
REPLACED = "container replaced"
STARTED = "container started"
REMOVED = "stale copy removed"
NAMES = "names rewritten"
HELD = "held"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class LogEntry:
    """One thing the reconciler did (or refused to do) to a project, and why."""

    time: float
    kind: str  # one of the constants above
    subject: str  # a replica, a host or the project
    why: str
    by: str = ""  # which reconciler (user@machine pid)

    def as_dict(self) -> Dict[str, object]:
        return {"time": self.time, "kind": self.kind, "subject": self.subject, "why": self.why, "by": self.by}

    @staticmethod
    def of(data) -> Optional["LogEntry"]:
        try:
            return LogEntry(float(data["time"]), str(data["kind"]), str(data["subject"]), str(data["why"]),
                            str(data.get("by") or ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class ReconcileLog:
    """The bounded log of each project, over the KeyValueStore port."""

    def __init__(self, store, prefix: str, length: int = LOG_LENGTH):
        self._store = store
        self._prefix = prefix.rstrip("/")
        self.length = length

    def append(self, project: str, entries: List[LogEntry]) -> None:
        if not entries:
            return
        key = log_key(self._prefix, project)
        for _ in range(20):
            found = self._store.get(key)
            old = self._parse(found[0]) if found else []
            text = json.dumps([e.as_dict() for e in (old + list(entries))[-self.length:]])
            if found is None:
                if self._store.create(key, text) is not None:
                    return
            elif self._store.compare_and_swap(key, text, found[1]) is not None:
                return
        raise StoreError(f"the log {key} kept changing while being written")

    def read(self, project: str) -> List[LogEntry]:
        """Oldest first; an unreadable value reads as empty."""
        found = self._store.get(log_key(self._prefix, project))
        return self._parse(found[0]) if found else []

    def read_all(self) -> List[Tuple[str, LogEntry]]:
        """(project, entry) of every project's log, oldest first."""
        found = []
        for key, (text, _) in self._store.list(f"{self._prefix}/reconciler/log/").items():
            found.extend((key.rsplit("/", 1)[1], e) for e in self._parse(text))
        return sorted(found, key=lambda pair: (pair[1].time, pair[0]))

    def drop(self, project: str) -> None:
        key = log_key(self._prefix, project)
        found = self._store.get(key)
        if found is not None:
            self._store.compare_and_delete(key, found[1])

    @staticmethod
    def _parse(text: str) -> List[LogEntry]:
        try:
            data = json.loads(text)
        except ValueError:
            return []
        if not isinstance(data, list):
            return []
        return [e for e in (LogEntry.of(d) for d in data) if e is not None]
