"""``opsml generate key`` and ``opsml keys rotate``: encryption at rest keys."""

from __future__ import annotations

from typing import Annotated

import typer

from opsml.cli._command import OpsmlTyper

__all__ = ["generate_app", "keys_app", "rotate_keys"]

generate_app = OpsmlTyper(help="Generate secrets.")
keys_app = OpsmlTyper(help="Manage the keys of encryption at rest.")


@generate_app.command("key")
def generate_key() -> None:
    """Print a new random master key for OPSML_ENCRYPT_SECRET."""
    from opsml.storage import generate_key as new_key

    typer.echo(new_key())


def rotate_keys(tracking_uri: str, secret: str, batch: int = 500) -> int:
    """Re-wrap every card key not wrapped by the first key of ``secret``; returns how many.

    Each key is re-wrapped in its own transaction, ``batch`` rows read at a time: an
    interrupted rotation leaves every key readable and is finished by running it again.

    Raises:
        IntegrityError: A card key is wrapped by a master key ``secret`` does not hold.
    """
    from opsml.storage import MasterKeys, WrappedKey
    from opsml.store import KeyStore, SqlStore

    master = MasterKeys(secret)
    keys = KeyStore(SqlStore.from_url(tracking_uri))
    count = 0
    while rows := keys.not_wrapped_by(master.current, batch):
        for row in rows:
            data_key = master.unwrap(WrappedKey(row.key_id, row.wrapped), row.prefix)
            wrapped = master.wrap(data_key, row.prefix)
            keys.replace(row.prefix, wrapped.key_id, wrapped.blob)
            count += 1
    return count


@keys_app.command("rotate")
def rotate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the keys.")] = False,
) -> None:
    """Re-wrap every card's data key under the new master key.

    The new key is the first of OPSML_ENCRYPT_SECRET=new-key,old-key; artifacts are not
    rewritten. Run where the database is.
    """
    from opsml.cli._common import guard
    from opsml.errors import InvalidArgumentError
    from opsml.settings import OpsmlConfig

    def run() -> int:
        config = OpsmlConfig.from_env()
        if not config.encrypt_secret:
            raise InvalidArgumentError("set OPSML_ENCRYPT_SECRET=new-key,old-key first")
        if dry_run:
            from opsml.storage import MasterKeys
            from opsml.store import KeyStore, SqlStore

            current = MasterKeys(config.encrypt_secret).current
            return len(KeyStore(SqlStore.from_url(config.tracking_uri)).not_wrapped_by(current))
        return rotate_keys(config.tracking_uri, config.encrypt_secret)

    count = guard(run)
    typer.echo(f"{'would re-wrap' if dry_run else 're-wrapped'} {count} card keys")
