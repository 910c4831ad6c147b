"""One registration, whatever the mode: stage, begin, transfer, finish (or abort).

Every backend speaks the same two-phase protocol (:class:`~opsml.registry.RegistryBackend`):

1. ``staging()``: a private local folder the card's interface saves its files into; the
   files are hashed into the card's manifest.
2. ``begin(card, ..., manifest)``: validate, allocate the version and record the card as
   *pending*; returns a :class:`Reservation` (what the card will be, where its files go).
   The card object is not touched.
3. ``transfer(reservation, folder)``: move the files to where the reservation says (nothing
   to do in local mode; an upload in client mode).
4. ``register_drift_profiles(...)``: a card with drift profiles has them registered with the
   Scouter server, under the version just allocated (a no-op where none is configured).
5. ``finish(reservation, folder)``: make the card visible, all at once; returns what was
   :class:`Registered`. On any failure in 3-5, ``abort(reservation)`` removes the pending
   record and every file.

:func:`register` drives these steps for every mode and sets the card's fields once, at the
end, from what ``finish`` returned: a failed registration leaves the card as it was. The
opsml server's routes call ``begin``/``finish``/``abort`` of the local backend, so client
mode runs the very same protocol, the transfer going over HTTP.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsml.cards import CARD_FILE, CardBase, check_new_card
from opsml.storage import Manifest
from opsml.types import RegistryType, VersionType

if TYPE_CHECKING:
    from opsml.registry._backend import RegistryBackend

__all__ = ["Registered", "Reservation", "register"]


@dataclass(frozen=True)
class Registered:
    """What a registration decided: the fields a registered card carries."""

    uid: str
    version: str
    created_at: datetime
    app_env: str
    manifest: Manifest


@dataclass(frozen=True)
class Reservation:
    """A pending registration.

    Attributes:
        registry: The card's registry.
        registered: What the card becomes when the registration finishes.
        card_json: The card's JSON as it will be stored (``card.json``).
        prefix: Where its files go in the storage (local backend; empty in client mode).
        owner: Who may continue it (a server's user, or this process as ``host:pid``).
    """

    registry: RegistryType
    registered: Registered
    card_json: str = ""
    prefix: str = ""
    owner: str | None = None

    @property
    def uid(self) -> str:
        """The uid the card gets."""
        return self.registered.uid


def register(
    backend: RegistryBackend,
    card: CardBase,
    version_type: VersionType,
    pre_tag: str | None,
    build_tag: str | None,
    save_kwargs: Any,
) -> None:
    """Register ``card`` through ``backend``, all-or-nothing (SPEC §4).

    On success the card's ``uid``, ``version``, ``created_at``, ``app_env`` and ``manifest``
    are set and its artifacts can be loaded from where they were stored; on failure nothing
    is visible anywhere and those fields are as they were.
    """
    check_new_card(card)
    with backend.staging() as folder:
        card._save_artifacts(folder, save_kwargs)
        manifest = Manifest.from_dir(folder, exclude=frozenset({CARD_FILE}))
        reservation = backend.begin(card, version_type, pre_tag, build_tag, manifest)
        try:
            backend.transfer(reservation, folder)
            monitored = card._drift_registrations(reservation.registered.version, save_kwargs)
            if monitored:
                backend.register_drift_profiles(reservation, monitored)
            registered = backend.finish(reservation, folder)
        except BaseException:
            with contextlib.suppress(Exception):
                backend.abort(reservation)
            raise
    card.uid = registered.uid
    card.version = registered.version
    card.created_at = registered.created_at
    card.app_env = registered.app_env
    card.manifest = registered.manifest
    card._registered()
    backend.attach(card)
