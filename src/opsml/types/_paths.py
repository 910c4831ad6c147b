"""``SaverPath``: where a custom interface's ``save`` writes a file (OpsML 3's helper)."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from opsml.types._enums import SaveName, Suffix

__all__ = ["SaverPath"]


class SaverPath:
    """Build the path of a file to save: ``parent/child/filename.extension``.

    Like OpsML 3's ``SaverPath``, the ``parent/child`` folder is created when a ``child`` is
    given (so the caller can write straight away); ``filename`` and ``extension`` are optional.

    Example:
        ```python
        from pathlib import Path
        import tempfile

        from opsml.types import SaveName, SaverPath, Suffix

        folder = Path(tempfile.mkdtemp())
        path = SaverPath(folder, None, SaveName.Data, Suffix.Joblib).path
        assert path == folder / "data.joblib"
        ```

    Args:
        parent: The folder the interface saves into.
        child: A sub-folder of ``parent`` (created if missing), or ``None``.
        filename: The file's name without suffix (a ``SaveName`` or a plain string), or ``None``
            for the folder itself.
        extension: The file's suffix without the dot (a ``Suffix`` or a plain string); ignored
            without a ``filename``.

    Attributes:
        path: The resulting path.
    """

    __slots__ = ("path",)

    def __init__(
        self,
        parent: str | PathLike[str],
        child: str | PathLike[str] | None = None,
        filename: SaveName | str | None = None,
        extension: Suffix | str | None = None,
    ) -> None:
        path = Path(parent)
        if child is not None:
            path = path / child
            path.mkdir(parents=True, exist_ok=True)
        if filename is not None:
            path = path / str(filename)
            if extension:
                path = path.with_suffix(f".{extension}")
        self.path: Path = path

    def __repr__(self) -> str:
        return f"SaverPath({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)
