"""Worker for the large-transfer test: register a big file, or download it, in client mode.

usage: big_transfer.py register <source-file>   -> prints "offset <n>" per file, then "uid <uid>"
       big_transfer.py download <uid> <dest>     -> downloads the card's artifacts into dest
Both print "maxrss_mb <n>" (peak resident memory of this process) at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

# Every byte goes over the wire: no client cache (it would serve the download from the copy
# the registration kept, and keep 2 GB per run).
os.environ["OPSML_CACHE_MAX_BYTES"] = "0"

import opsml.client._backend as backend_module
from opsml import CardRegistry, DataCard, RegistryType
from opsml.data import (
    DataInterface,
    DataInterfaceSaveMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
)


class FileData(DataInterface):
    """A file on disk, copied into the card in chunks (never held in memory)."""

    def _validate_data(self, data: Any) -> None:
        return None

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        shutil.copyfile(self.data, path / "data.bin")
        return DataInterfaceSaveMetadata(data_uri="data.bin")

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        self.data = path / metadata.data_uri


def _report_offsets() -> None:
    original = backend_module.upload_files

    def upload_files(api: Any, transfers: Any, root: Path, status_url: str, *rest: Any) -> None:
        for transfer in transfers:
            print(f"offset {transfer.offset}", flush=True)
        original(api, transfers, root, status_url, *rest)

    backend_module.upload_files = upload_files  # type: ignore[assignment]


def main() -> None:
    if sys.argv[1] == "register":
        _report_offsets()
        card = DataCard(interface=FileData(data=sys.argv[2]), space="big", name="file")
        CardRegistry(RegistryType.Data).register_card(card)
        print(f"uid {card.uid}", flush=True)
    else:
        card = CardRegistry(RegistryType.Data).load_card(uid=sys.argv[2], interface=FileData())
        card.download_artifacts(Path(sys.argv[3]))
    # VmHWM, not getrusage: Linux carries ru_maxrss over from the forking parent across exec.
    status = Path("/proc/self/status").read_text()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
    print(f"maxrss_mb {peak_kb // 1024}", flush=True)


if __name__ == "__main__":
    main()
