"""A first load of a registered DataCard in a fresh interpreter (run by ``_opsml_api.py``).

``python _load_child.py UID [--parquet PATH] [--parquet-first] [--check-rows N [--stamp I]]``
loads the card (``load_card(uid=UID)`` + ``card.load()``) in a process that did not register it, in
the registry mode its environment gives (the parent sets ``XDG_CACHE_HOME`` to an empty
folder, so ours' verified-file cache knows no file and every byte is hashed; in client mode
also ``OPSML_CACHE_MAX_BYTES=0``, so every byte comes through the server). With
``--parquet``, the same process also reads that file with ``pd.read_parquet`` (pyarrow, as
ours reads), back to back with the load, the order given by ``--parquet-first``.

Not timed: importing opsml, pandas and pyarrow, creating the registry, and one tiny
Parquet read that sets up pyarrow's reader for both timed calls. Prints one JSON object:
the seconds of each timed call.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import make_frame, stamp_frame


def main() -> None:
    """Time one load (and one ``read_parquet``) and print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("uid")
    parser.add_argument("--parquet", type=Path)
    parser.add_argument("--parquet-first", action="store_true")
    parser.add_argument("--check-rows", type=int, default=0)
    parser.add_argument("--stamp", type=int, default=None, help="the sample's stamp_frame")
    args = parser.parse_args()

    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (imported by both timed calls; not timed)

    import opsml

    registry = opsml.CardRegistry(opsml.RegistryType.Data)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.parquet"
        pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(tiny, engine="pyarrow")
        pd.read_parquet(tiny, engine="pyarrow")

    def load() -> Any:
        card = registry.load_card(uid=args.uid)
        card.load()
        return card.interface.data

    calls = [("load", load)]
    if args.parquet is not None:
        read = ("read_parquet", lambda: pd.read_parquet(args.parquet, engine="pyarrow"))
        calls = [read, *calls] if args.parquet_first else [*calls, read]
    seconds: dict[str, float] = {}
    kept: dict[str, Any] = {}  # results outlive the clock: freeing 160 MB is timed for neither
    for name, call in calls:
        start = time.perf_counter()
        kept[name] = call()
        seconds[name] = time.perf_counter() - start
    if args.check_rows:
        frame = make_frame(args.check_rows)
        if args.stamp is not None:
            stamp_frame(frame, args.stamp)
        for name, loaded in kept.items():
            if type(loaded) is not type(frame) or not loaded.equals(frame):
                raise RuntimeError(f"{name} gave other data than the frame: {type(loaded)!r}")
    print(json.dumps(seconds))


if __name__ == "__main__":
    main()
