"""What the registry does for ServiceCards: resolve references at registration, attach the
referenced cards when a service is loaded. Backend-independent, so both modes share it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from opsml.cards import Card, CardBase, ServiceCard, alias_in
from opsml.errors import CardNotFoundError, CardTypeError
from opsml.registry._backend import RegistryBackend
from opsml.store import CARD_REGISTRIES, CardQuery
from opsml.types import RegistryType
from opsml.version import VersionQuery

__all__ = ["attach_references", "resolve_references"]

_THREADS = 8
T = TypeVar("T")
R = TypeVar("R")


def _parallel(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(i) for i in items]``, concurrently when there are several (client mode makes
    one request per card)."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), _THREADS)) as pool:
        return list(pool.map(fn, items))


def _load_by_uid(backend: RegistryBackend, registry: RegistryType, uid: str) -> CardBase:
    return backend.load_card(registry, CardQuery(uid=uid))


def _registry_holding(backend: RegistryBackend, uid: str) -> RegistryType | None:
    for registry in CARD_REGISTRIES:
        if backend.list_cards(registry, CardQuery(uid=uid, limit=1)):
            return registry
    return None


def _resolve(backend: RegistryBackend, service: ServiceCard, ref: Card) -> Card:
    registry = ref.registry_type
    assert registry is not None  # the Card validator guarantees it
    where = f"ServiceCard {service.space}/{service.name}: card {ref.alias!r}"
    try:
        if ref.uid is not None:
            card = _load_by_uid(backend, registry, ref.uid)
        else:
            alias = alias_in(ref.version)
            query = CardQuery(
                space=ref.space,
                name=ref.name,
                version=VersionQuery.parse(ref.version) if ref.version and not alias else None,
                alias=alias,
            )
            card = backend.load_card(registry, query)
    except CardNotFoundError:
        if ref.uid is not None:
            holder = _registry_holding(backend, ref.uid)
            if holder is not None:
                raise CardTypeError(
                    f"{where} references uid {ref.uid} as a {registry.value} card, but it is "
                    f"a {holder.value} card"
                ) from None
        raise CardNotFoundError(f"{where}: no registered {ref.describe()}") from None
    return Card(alias=ref.alias, card=card)


def resolve_references(backend: RegistryBackend, service: ServiceCard) -> list[Card]:
    """Every reference of ``service`` pinned to one registered card (uid and version).

    A version query resolves to the highest matching final release (a prerelease only when
    no final release matches), an alias (``"@prod"``) to the version it points at now; a
    uid must belong to the reference's registry type.

    Raises:
        CardNotFoundError: A reference matches no registered card.
        CardTypeError: A uid belongs to another registry than the reference says.
    """
    return _parallel(lambda ref: _resolve(backend, service, ref), service.card_refs)


def attach_references(backend: RegistryBackend, service: ServiceCard) -> None:
    """Load every referenced card's metadata into ``service``'s references.

    Raises:
        CardNotFoundError: A referenced card no longer exists (it was deleted).
    """

    def load(ref: Card) -> CardBase:
        assert ref.registry_type is not None
        assert ref.uid is not None
        try:
            return _load_by_uid(backend, ref.registry_type, ref.uid)
        except CardNotFoundError:
            raise CardNotFoundError(
                f"ServiceCard {service.space}/{service.name} v{service.version}: card "
                f"{ref.alias!r} ({ref.describe()}) no longer exists"
            ) from None

    for ref, card in zip(service.card_refs, _parallel(load, service.card_refs), strict=True):
        ref.card = card
