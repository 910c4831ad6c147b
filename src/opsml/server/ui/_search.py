"""The one search box: a query of words read into card filters.

``rank`` matches every card whose space or name contains ``rank``; ``team/rank`` a space
containing ``team`` and a name containing ``rank``; ``space:team`` and ``name:rank`` match
one of them; ``tag:stage:prod`` (or any other ``key:value`` word, ``stage:prod``) a tag;
``version:^1.2``, ``v1.2`` or a word starting with ``^ ~ > < =`` a version query.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from opsml.errors import InvalidArgumentError

__all__ = ["Search", "parse_search"]

_VERSION_START = re.compile(r"^(?:[\^~<>=]|v\d)")
_KEYS = ("space", "name", "tag", "version")


@dataclass
class Search:
    """What a search box query asks for."""

    contains: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    version: str = ""


def parse_search(text: str) -> Search:
    """Read a search box query (see the module docstring).

    Raises:
        InvalidArgumentError: Unbalanced quotes, or two version queries.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"cannot read the search {text!r}: {exc}") from None
    search = Search()

    def version(value: str) -> None:
        if search.version:
            raise InvalidArgumentError("one version query per search")
        search.version = value

    for word in words:
        key, sep, value = word.partition(":")
        if sep and key.lower() in _KEYS and value:
            kind = key.lower()
            if kind == "tag":
                search.tags.append(value)
            elif kind == "version":
                version(value.removeprefix("v"))
            else:
                search.contains.append((kind, value))
        elif sep and key and value:
            search.tags.append(word)
        elif _VERSION_START.match(word):
            version(word.removeprefix("v"))
        elif "/" in word:
            space, _, name = word.partition("/")
            if space:
                search.contains.append(("space", space))
            if name:
                search.contains.append(("name", name))
        elif word:
            search.contains.append(("any", word))
    return search
