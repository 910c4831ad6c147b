"""Key/value tags: which rows of the tag table index a card's tags.

A tag ``key:value`` (OpsML's convention, what a ``{key: value}`` mapping becomes) or
``key=value`` is a key/value pair when its key is 1-128 characters from ``A-Z a-z 0-9 _ .
-``; the first ``:`` or ``=`` separates key and value. A pair is indexed under both
spellings, so a filter on ``team=search``, ``team:search`` or ``{"team": "search"}`` finds
it with one probe of the tag index, whichever way it was written. The card keeps its tags
exactly as given; the index rows are for searching only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["TAG_KEY", "indexed_tags", "tag_pair"]

TAG_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")
"""What a key of a key/value tag is made of."""


def tag_pair(tag: str) -> tuple[str, str] | None:
    """The (key, value) of a key/value tag, ``None`` for a plain tag."""
    for i, char in enumerate(tag):
        if char in ":=":
            key = tag[:i]
            return (key, tag[i + 1 :]) if TAG_KEY.fullmatch(key) else None
    return None


def indexed_tags(tags: Iterable[str]) -> list[str]:
    """Every tag as given, and each key/value tag in its other spelling too (no duplicates,
    in order)."""
    rows: dict[str, None] = {}
    for tag in tags:
        rows[tag] = None
        pair = tag_pair(tag)
        if pair is not None:
            rows[f"{pair[0]}:{pair[1]}"] = None
            rows[f"{pair[0]}={pair[1]}"] = None
    return list(rows)
