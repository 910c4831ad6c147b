"""Server-rendered HTML pages (readable without JavaScript; no external assets)."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import urlencode

from opsml.cards import CardRecord

__all__ = ["card_page", "index_page", "registry_page"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;
background:#fafbfc}
header{background:#0b3d91;color:#fff;padding:.8rem 1.5rem}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:1rem 1.5rem;max-width:72rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;font-size:.9rem}
th{background:#eef1f4}
a{color:#0a4bbd}
form{margin:.8rem 0}
label{margin-right:.4rem}
input{margin-right:.8rem;padding:.2rem}
pre{background:#fff;border:1px solid #d0d7de;padding:.8rem;overflow:auto;font-size:.85rem}
.muted{color:#57606a}
"""


def _layout(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)} · opsml</title><style>{_STYLE}</style></head><body>"
        "<header><a href='/'>opsml</a></header>"
        f"<main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def index_page(counts: dict[str, int]) -> str:
    """The home page: one row per registry with its card count."""
    rows = "".join(
        f"<tr><td><a href='/ui/{escape(name)}'>{escape(name)}</a></td><td>{count}</td></tr>"
        for name, count in counts.items()
    )
    body = (
        "<p class='muted'>Registries of this server.</p>"
        f"<table><thead><tr><th>registry</th><th>cards (up to 1000 counted)</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return _layout("Registries", body)


def registry_page(registry: str, records: list[CardRecord], filters: dict[str, str]) -> str:
    """A registry's cards with a search form (space, name, version query)."""
    fields = "".join(
        f"<label for='{key}'>{key}</label>"
        f"<input id='{key}' name='{key}' value='{escape(filters.get(key, ''))}'>"
        for key in ("space", "name", "version")
    )
    rows = "".join(
        "<tr>"
        f"<td>{escape(r.space)}</td><td>{escape(r.name)}</td>"
        f"<td><a href='/ui/{escape(registry)}/{escape(r.uid)}'>{escape(r.version)}</a></td>"
        f"<td>{escape(r.created_at[:19].replace('T', ' '))}</td>"
        f"<td>{escape(', '.join(r.tags))}</td>"
        "</tr>"
        for r in records
    )
    empty = "" if records else "<p class='muted'>No cards match.</p>"
    body = (
        f"<form method='get' action='/ui/{escape(registry)}'>{fields}"
        "<button type='submit'>Search</button></form>"
        "<table><thead><tr><th>space</th><th>name</th><th>version</th><th>created (UTC)</th>"
        f"<th>tags</th></tr></thead><tbody>{rows}</tbody></table>{empty}"
    )
    return _layout(f"{registry} cards", body)


def card_page(registry: str, card: dict[str, Any], files: dict[str, Any]) -> str:
    """One card: its metadata and its artifact files."""
    title = f"{card.get('space')}/{card.get('name')} v{card.get('version')}"
    file_rows = "".join(
        f"<tr><td>{escape(path)}</td><td>{entry['size']}</td>"
        f"<td><code>{escape(entry['sha256'][:16])}…</code></td></tr>"
        for path, entry in files.items()
    )
    query = urlencode({"space": card.get("space", ""), "name": card.get("name", "")})
    body = (
        f"<p><a href='/ui/{escape(registry)}?{escape(query)}'>all versions</a></p>"
        "<h2>Files</h2><table><thead><tr><th>path</th><th>bytes</th><th>sha256</th></tr>"
        f"</thead><tbody>{file_rows}</tbody></table>"
        f"<h2>Metadata</h2><pre>{escape(json.dumps(card, indent=2))}</pre>"
    )
    return _layout(title, body)
