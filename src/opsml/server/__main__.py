"""``python -m opsml.server --host H --port P``: run the server (used by OpsmlTestServer)."""

from __future__ import annotations

import argparse

from opsml.server import serve


def main() -> None:
    """Parse ``--host`` / ``--port`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m opsml.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    serve(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
