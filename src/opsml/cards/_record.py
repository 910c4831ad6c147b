"""CardRecord and CardList: what ``list_cards`` returns."""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

from opsml._compat import require
from opsml._validation import empty_list

__all__ = ["CardList", "CardRecord"]


class CardRecord(BaseModel):
    """One registered card's summary row (metadata only, no artifacts)."""

    model_config = ConfigDict(protected_namespaces=(), frozen=True)

    uid: str
    created_at: str
    app_env: str
    space: str
    name: str
    version: str
    registry_type: str
    tags: list[str] = Field(default_factory=empty_list)
    datacard_uids: list[str] = Field(default_factory=empty_list)
    modelcard_uids: list[str] = Field(default_factory=empty_list)
    experimentcard_uids: list[str] = Field(default_factory=empty_list)
    auditcard_uid: str | None = None
    interface_type: str | None = None
    data_type: str | None = None
    model_type: str | None = None
    task_type: str | None = None

    def __str__(self) -> str:
        return f"{self.registry_type} card {self.space}/{self.name} v{self.version} ({self.uid})"


T = TypeVar("T")


class CardList(Generic[T]):
    """An ordered list of cards with ``len``, iteration, indexing and a table.

    ``list_cards`` returns one of :class:`CardRecord`; ``ServiceCard.cards`` one of the
    service's cards.
    """

    def __init__(self, cards: Sequence[T]) -> None:
        self.cards: list[T] = list(cards)

    def __len__(self) -> int:
        return len(self.cards)

    def __iter__(self) -> Iterator[T]:
        return iter(self.cards)

    @overload
    def __getitem__(self, key: int) -> T: ...

    @overload
    def __getitem__(self, key: slice) -> CardList[T]: ...

    def __getitem__(self, key: int | slice) -> T | CardList[T]:
        if isinstance(key, slice):
            return CardList(self.cards[key])
        return self.cards[key]

    def __repr__(self) -> str:
        rows = [_summary_line(card) for card in self.cards[:_SHOWN]]
        more = len(self.cards) - len(rows)
        if more > 0:
            rows.append(f"... and {more} more")
        head = f"CardList({len(self.cards)} card{'' if len(self.cards) == 1 else 's'})"
        return "\n  ".join([head + (":" if rows else ""), *rows])

    def _repr_html_(self) -> str:
        """The cards as an HTML table (what a notebook shows)."""
        shown = self.cards[:_HTML_SHOWN]
        header = "".join(f"<th>{html.escape(column)}</th>" for column in _COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(_cell(card, column))}</td>" for column in _COLUMNS)
            + "</tr>"
            for card in shown
        )
        more = len(self.cards) - len(shown)
        caption = f"{len(self.cards)} card{'' if len(self.cards) == 1 else 's'}"
        caption += f" (first {len(shown)} shown)" if more > 0 else ""
        return (
            f"<table><caption>{html.escape(caption)}</caption><thead><tr>{header}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per card: every field of a :class:`CardRecord`, and for a card its
        ``registry_type``, ``space``, ``name``, ``version``, ``uid``, ``created_at`` and
        ``tags`` (JSON-ready: dates as ISO strings)."""
        return [_as_dict(card) for card in self.cards]

    def to_pandas(self) -> Any:
        """The cards as a pandas ``DataFrame``, one row per card (see :meth:`to_dicts`).

        Raises:
            MissingDependencyError: pandas is not installed (extra ``pandas``).
        """
        pd = require("pandas", "pandas")
        return pd.DataFrame(self.to_dicts(), columns=self._columns())

    def to_polars(self) -> Any:
        """The cards as a polars ``DataFrame``, one row per card (see :meth:`to_dicts`).

        Raises:
            MissingDependencyError: polars is not installed (extra ``polars``).
        """
        pl = require("polars", "polars")
        rows = self.to_dicts()
        if not rows:
            return pl.DataFrame(schema=dict.fromkeys(self._columns(), pl.String))
        return pl.DataFrame(rows, infer_schema_length=None)

    def _columns(self) -> list[str]:
        if self.cards and isinstance(self.cards[0], CardRecord):
            return list(CardRecord.model_fields)
        if not self.cards:
            return list(CardRecord.model_fields)
        return list(_as_dict(self.cards[0]))

    def as_table(self) -> None:
        """Print the cards as a table (created, space, name, version, uid, tags)."""
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(self.cards)} cards")
        for column in ("created_at", "space", "name", "version", "uid", "tags"):
            # A uid stays whole on its line (copyable, greppable), on a terminal or piped.
            table.add_column(
                column,
                overflow="fold",
                no_wrap=column == "uid",
                min_width=36 if column == "uid" and self.cards else None,
            )
        for card in self.cards:
            table.add_row(
                str(_field(card, "created_at"))[:19].replace("T", " "),
                *(str(_field(card, name)) for name in ("space", "name", "version", "uid")),
                ", ".join(_field(card, "tags") or []),
            )
        console = Console()
        if not console.is_terminal:  # piped or in a file: no terminal width to fit
            console = Console(width=100_000)
        console.print(table)


_SHOWN = 10
_HTML_SHOWN = 500
_COLUMNS = ("registry_type", "space", "name", "version", "uid", "created_at", "tags")
_CARD_FIELDS = ("registry_type", "space", "name", "version", "uid", "created_at", "tags")


def _as_dict(card: Any) -> dict[str, Any]:
    if isinstance(card, CardRecord):
        return card.model_dump()
    row: dict[str, Any] = {}
    if getattr(card, "alias", None) is not None:  # a ServiceCard's unresolved reference
        row["alias"] = card.alias
    for name in _CARD_FIELDS:
        value = getattr(card, name, None)
        if name == "registry_type" and value is not None:
            value = str(getattr(value, "value", value))
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        elif name == "tags":
            value = list(value or [])
        row[name] = value
    return row


def _cell(card: Any, column: str) -> str:
    value = _as_dict(card).get(column)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)[:19].replace("T", " ") if column == "created_at" else str(value)


def _summary_line(card: Any) -> str:
    row = _as_dict(card)
    kind = f"{row['registry_type']} card" if row.get("registry_type") else "card"
    what = f"{kind} {row.get('space')}/{row.get('name')}"
    version = f" v{row['version']}" if row.get("version") else ""
    uid = f" ({row['uid']})" if row.get("uid") else ""
    return what + version + uid


def _field(card: Any, name: str) -> Any:
    value = getattr(card, name, None)
    return "" if value is None else value
