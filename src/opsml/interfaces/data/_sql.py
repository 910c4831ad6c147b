"""SqlData: a dataset described by the SQL that produces it, saved as ``sql/<name>.sql``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from opsml.errors import InvalidArgumentError, SerializationError
from opsml.interfaces._data_base import (
    DataInterface,
    DataInterfaceMetadata,
    DataInterfaceSaveMetadata,
    SqlLogic,
    translate_errors,
)
from opsml.interfaces._enums import DataType
from opsml.interfaces._kwargs import DataLoadKwargs, DataSaveKwargs
from opsml.interfaces._profile import DataProfile
from opsml.types import SaveName

__all__ = ["SqlData"]

_SQL_DIR = str(SaveName.Sql)


class SqlData(DataInterface):
    """SQL queries only, no rows: each query is saved as ``sql/<name>.sql``.

    ``save`` writes nothing else (no data file); ``load`` reads the ``.sql`` files back into
    :attr:`sql_logic`. The card's ``data_uri`` and ``sql_uri`` both name the ``sql`` folder.

    Args:
        sql_logic: The queries: a ``SqlLogic`` or a dict of name to SQL text or ``.sql`` path.
        data_profile: A profile of the data the queries produce, computed elsewhere.

    Raises:
        InvalidArgumentError: A bad query name, an empty query or an unreadable ``.sql``
            file; or data given to it (``SqlData`` holds no rows).
    """

    data_type: ClassVar[DataType] = DataType.Sql
    verify_before_read: ClassVar[bool] = False

    def __init__(
        self,
        sql_logic: SqlLogic | dict[str, str] | None = None,
        data_profile: DataProfile | None = None,
    ) -> None:
        super().__init__(sql_logic=sql_logic, data_profile=data_profile)

    def _validate_data(self, data: Any) -> None:
        raise InvalidArgumentError(
            "SqlData holds SQL queries, not rows; use PandasData, PolarsData, ArrowData, ... "
            "for the data (they take sql_logic= too)"
        )

    def save(self, path: Path, save_kwargs: DataSaveKwargs | None = None) -> DataInterfaceMetadata:
        """Write each query to ``path/sql/<name>.sql`` (and the profile, if any).

        Args:
            path: The card's folder; created if missing.
            save_kwargs: Recorded only; there is no library writer.

        Returns:
            The interface metadata; its ``save_metadata`` has ``data_uri`` and ``sql_uri``
            set to ``"sql"``.

        Raises:
            SerializationError: There are no queries, or writing failed.
        """
        path = Path(path)
        if not len(self.sql_logic):
            raise SerializationError("SqlData has no SQL queries to save; pass sql_logic=...")
        with translate_errors("create", path):
            path.mkdir(parents=True, exist_ok=True)
        self.sql_logic._save(path / _SQL_DIR)
        metadata = DataInterfaceSaveMetadata(
            data_uri=_SQL_DIR, sql_uri=_SQL_DIR, save_kwargs=save_kwargs
        )
        return self.get_interface_metadata(self._save_extras(path, metadata))

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata | DataInterfaceMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        """Read the ``.sql`` files (and the profile, if saved) back.

        Args:
            path: The card's folder.
            metadata: What ``save`` returned, or its ``save_metadata``.
            load_kwargs: Ignored; there is no library reader.

        Raises:
            SerializationError: The files cannot be read.
        """
        path = Path(path)
        if isinstance(metadata, DataInterfaceMetadata):
            metadata = metadata.save_metadata
        self._sql_logic = SqlLogic._load(path / (metadata.sql_uri or metadata.data_uri))
        self._load_extras(path, metadata)
