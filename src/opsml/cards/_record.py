"""CardRecord and CardList: what ``list_cards`` returns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

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
    tags: list[str] = Field(default_factory=list)
    datacard_uids: list[str] = Field(default_factory=list)
    modelcard_uids: list[str] = Field(default_factory=list)
    experimentcard_uids: list[str] = Field(default_factory=list)
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
        return f"CardList({len(self.cards)} cards)"

    def as_table(self) -> None:
        """Print the cards as a table (created, space, name, version, uid, tags)."""
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(self.cards)} cards")
        for column in ("created_at", "space", "name", "version", "uid", "tags"):
            table.add_column(column, overflow="fold")
        for card in self.cards:
            table.add_row(
                str(_field(card, "created_at"))[:19].replace("T", " "),
                *(str(_field(card, name)) for name in ("space", "name", "version", "uid")),
                ", ".join(_field(card, "tags") or []),
            )
        Console().print(table)


def _field(card: Any, name: str) -> Any:
    value = getattr(card, name, None)
    return "" if value is None else value
