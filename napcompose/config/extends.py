"""``extends``: a service built on another one, in the same file or in another file.

Each (file, service) is resolved once and remembered. A chain is followed without recursion, so a long
chain cannot exhaust the stack, and a loop is reported by name. A ``file:`` that names the file being
read is that file, exactly as when ``file:`` is left out (docker-compose 1.29.2 does the same).
"""

from __future__ import annotations

import os

from napcompose.config.merge import check_extendable, merge_service
from napcompose.config.schema import suggest
from napcompose.config.yamlload import Map, line_of
from napcompose.errors import ConfigError


class ExtendsResolver:
    """Applies ``extends`` for every service of the documents it is asked about.

    ``load_other(path, relative_to)`` returns the Document that ``extends.file`` names (the same object
    for the same file); each Document carries ``path``, the identity used to spot the same file.
    """

    def __init__(self, load_other):
        self._load_other = load_other
        self._done = {}  # (document path, service) -> the service mapping with its extends applied

    def services(self, doc):
        """name -> mapping of every service of ``doc``, extends applied (in the file's order)."""
        return {name: self.resolve(doc, name) for name in doc.services}

    def resolve(self, doc, name):
        chain = []  # (document, service) from ``name`` outward to the first service that extends nothing
        seen = set()
        current, base = (doc, name), None
        while True:
            here_doc, here = current
            key = (here_doc.path, here)
            if key in self._done:
                base = self._done[key]
                break
            if key in seen:
                self._circular(chain, current)
            seen.add(key)
            chain.append(current)
            ext = here_doc.services[here].get("extends")
            if ext is None:
                break
            current = self._target(here_doc, here, ext)
        # Build from the far end of the chain back to ``name``; each result is remembered.
        for index in range(len(chain) - 1, -1, -1):
            here_doc, here = chain[index]
            body = here_doc.services[here]
            if body.get("extends") is not None:
                check_extendable(_service_of(body["extends"]), base, here_doc.filename)
                merged = merge_service({k: v for k, v in base.items() if k != "extends"},
                                       {k: v for k, v in body.items() if k != "extends"})
                body = Map(merged, line=body.line, lines=dict(body.lines))
            self._done[(here_doc.path, here)] = body
            base = body
        return base

    def _target(self, doc, name, ext):
        """The (document, service) that ``ext`` (the extends value of ``name`` in ``doc``) names."""
        target = _service_of(ext)
        where = f"{doc.filename}:{line_of(doc.services[name], 'extends')}: service '{name}'"
        if isinstance(ext, dict) and "file" in ext:
            other = self._load_other(ext["file"], doc.filename)
            if target not in other.services:
                raise ConfigError(f"{where}: extends service '{target}', which {ext['file']} does not define"
                                  f"{suggest(target, other.services)}")
            return other, target
        if target not in doc.services:
            raise ConfigError(f"{where}: extends service '{target}', which is not defined"
                              f"{suggest(target, doc.services)}")
        return doc, target

    @staticmethod
    def _circular(chain, closing):
        last_doc, last = chain[-1]
        names = " -> ".join(f"{os.path.basename(d.filename)}:{s}" for d, s in chain + [closing])
        raise ConfigError(f"{last_doc.filename}:{line_of(last_doc.services[last], 'extends')}: service "
                          f"'{last}': circular extends: {names}")


def _service_of(ext):
    return ext if isinstance(ext, str) else ext["service"]
