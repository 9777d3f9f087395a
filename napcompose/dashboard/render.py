"""Whole dashboard pages and the JSON document, from a Snapshot. Pure: no I/O, no clock.

A page is the shell (navigation, the containers filter) around one view's fragment; the page's
script fetches the same fragment again every few seconds and swaps it in, so the page never reloads.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Mapping

from napcompose.dashboard.snapshot import Snapshot
from napcompose.dashboard.views import FILTERS, TITLES, VIEWS, filter_choices, fragment, h, when

REFRESH_MS = 2000


def content(snapshot: Snapshot, view: str, filters: Mapping[str, str]) -> str:
    """One view's fragment with the time the cluster was read; what the page swaps in on refresh."""
    return (fragment(snapshot, view, filters)
            + f'<p class="taken">Cluster read at {h(when(snapshot.taken_at))}</p>')


def _filter_form(snapshot: Snapshot, filters: Mapping[str, str]) -> str:
    choices = filter_choices(snapshot)
    fields = []
    for key in FILTERS:
        values = list(choices[key])
        wanted = filters.get(key, "")
        if wanted and wanted not in values:
            values.append(wanted)  # keep a filter whose containers are gone for now
        options = ['<option value="">all</option>'] + [
            f'<option value="{h(v)}"{" selected" if v == wanted else ""}>{h(v)}</option>' for v in values]
        fields.append(f'<label>{key} <select name="{key}">{"".join(options)}</select></label>')
    return (f'<form id="filters" method="get" action="/containers">{"".join(fields)}'
            f'<button type="submit">Filter</button></form>')


def page(snapshot: Snapshot, view: str, filters: Mapping[str, str]) -> str:
    """The whole page of ``view``; raises KeyError for a view that does not exist."""
    body = content(snapshot, view, filters)
    active = ' class="active"'
    nav = "".join(f'<a href="/{v}"{active if v == view else ""}>{h(TITLES[v])}</a>' for v in VIEWS)
    project = f' <span class="project">project {h(snapshot.project)}</span>' if snapshot.project else ""
    form = _filter_form(snapshot, filters) if view == "containers" else ""
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{h(TITLES[view])} \u00b7 nap-compose dashboard</title>"
            '<link rel="stylesheet" href="/static/style.css"><link rel="icon" href="/static/icon.svg">'
            '<script src="/static/app.js" defer></script></head>'
            f'<body data-view="{h(view)}" data-refresh-ms="{REFRESH_MS}">'
            f'<header><h1>nap-compose</h1>{project}<nav>{nav}</nav>'
            '<span id="status" class="status">live</span></header>'
            f'<main><h2>{h(TITLES[view])}</h2>{form}<section id="content">{body}</section></main>'
            "</body></html>\n")


def refused_page(reason: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>nap-compose dashboard"
            f"</title></head><body><h1>Token required</h1><p>{h(reason)}</p></body></html>\n")


def state_json(snapshot: Snapshot) -> str:
    """The Snapshot as JSON, for scripts; it holds no more than the pages show."""
    return json.dumps(asdict(snapshot), indent=1, sort_keys=True)
