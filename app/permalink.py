"""Permalinks: a tab's state in the URL query, under the names of that tab's API parameters plus
`tab`, e.g. `/?tab=think&prompt=12%2B35%3D&checkpoint=arith-ebt&steps=8&samples=4&seed=3`.

A tab registers its keys once (`register`); the "Copy link" button builds the query in the
browser from the widgets' values (`copy_link_js`); a page load reads it back (`read`) and the tab
validates every value with the same checks as its widget values (`validated`): a bad value gives
a message naming the field and the tab's default is used, and the page still works.

Hooks for other tabs (the Playground, answer EBTs): `register("playground", ("task", ...))`,
then read `read(request)` in the tab's own `demo.load` handler and call `validated` with one
check per key; `TABS` lists what is registered (tests and docs use it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import gradio as gr

TABS: dict[str, tuple[str, ...]] = {}  # tab id → its query keys (the API parameters + extras)
PAGES = {"points": "landscape"}  # a link's tab → the gr.Tab id holding it, where they differ
SUBPAGES = {"points": "points"}  # a link's tab → its sub-tab's id inside that page


def register(tab: str, keys: tuple[str, ...]) -> None:
    """Declare the query keys of a tab (its API parameter names, then extras such as the
    selected token and step). Registering the same tab again replaces its keys."""
    if not tab.isidentifier() or "tab" in keys:
        raise ValueError(f"tab must be an identifier and keys must not include 'tab', got {tab!r}")
    TABS[tab] = tuple(keys)


def typed(text: str):
    """A query value as the JSON value a widget would send: "8" → 8, "0.5" → 0.5,
    "true"/"false" → bool, anything else the string itself (the validators then name it)."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        return value if cast is int or math.isfinite(value) else text
    return text


def read(query: Mapping[str, str]) -> tuple[str | None, dict, list[str]]:
    """(tab, {key: typed value} of that tab's registered keys, unknown keys) from a query."""
    tab = query.get("tab")
    if tab not in TABS:
        return None, {}, []
    keys = TABS[tab]
    values = {k: typed(v) for k, v in query.items() if k in keys}
    unknown = sorted(k for k in query if k != "tab" and k not in keys)
    return tab, values, unknown


def validated(
    values: dict, checks: Mapping[str, Callable], defaults: Mapping
) -> tuple[dict, list[str]]:
    """Each value through its check (the widget's validator, raising ValueError naming the
    field); a missing or bad value → the default. Returns (values, the error messages)."""
    clean, errors = dict(defaults), []
    for key, check in checks.items():
        if key not in values:
            continue
        try:
            clean[key] = check(values[key])
        except ValueError as err:
            errors.append(str(err))
    return clean, errors


def notice(errors: list[str], unknown: list[str]) -> str:
    """Markdown shown above a tab opened from a link with bad values ("" when all were fine)."""
    lines = [f"- {e}" for e in errors]
    lines += [f"- unknown link parameter {k!r} ignored" for k in unknown]
    if not lines:
        return ""
    return "**This link had values the app cannot use; their defaults are shown:**\n" + "\n".join(
        lines
    )


def query(tab: str, values: Mapping) -> str:
    """The query string of a tab's state (what the Copy link button builds in the browser)."""
    return urlencode({"tab": tab, **{k: _text(values[k]) for k in TABS[tab] if k in values}})


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def copy_link_js(tab: str) -> str:
    """A js= function for a button whose inputs are the tab's widgets in `TABS[tab]` order: it
    builds the link, copies it to the clipboard (where the browser allows) and returns it."""
    keys = json.dumps(list(TABS[tab]))
    return f"""(...values) => {{
        const keys = {keys};
        const q = new URLSearchParams({{tab: {json.dumps(tab)}}});
        keys.forEach((k, i) => {{
            const v = values[i];
            if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
        }});
        const url = window.location.origin + window.location.pathname + '?' + q.toString();
        if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {{}});
        return url;
    }}"""


def selected_tab(request: gr.Request):
    """Page load: select the tab a link names (its gr.Tab id is the `tab` value)."""
    tab = (dict(request.query_params) if request is not None else {}).get("tab")
    return gr.Tabs(selected=PAGES.get(tab, tab)) if tab in TABS else gr.skip()


def selected_subtab(request: gr.Request):
    """Page load: inside that page, select the sub-tab a link names (e.g. the Point EBT view)."""
    tab = (dict(request.query_params) if request is not None else {}).get("tab")
    return gr.Tabs(selected=SUBPAGES[tab]) if tab in SUBPAGES else gr.skip()
