"""``python -m opsml.server --host H --port P [--workers N]``: run the server (used by
OpsmlTestServer; one worker unless told otherwise)."""

from __future__ import annotations

import argparse
import sys

from opsml.errors import OpsmlError
from opsml.server import serve


def main() -> None:
    """Parse ``--host`` / ``--port`` / ``--workers`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m opsml.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        serve(host=args.host, port=args.port, workers=args.workers)
    except OpsmlError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
