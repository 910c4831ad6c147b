"""Worker process for the alias race: move one alias N times across the given versions.

It connects first, prints "ready" and waits for a line on stdin, so both workers start
at the same moment; at the end it prints the version of its last move.
"""

from __future__ import annotations

import sys

from opsml import CardRegistry, RegistryType


def main() -> None:
    count, versions = int(sys.argv[1]), sys.argv[2].split(",")
    registry = CardRegistry(RegistryType.Prompt)
    registry.list_aliases(space="race", name="same")  # connected before the start
    print("ready", flush=True)
    sys.stdin.readline()
    version = ""
    for i in range(count):
        version = versions[i % len(versions)]
        registry.set_alias("race", "same", "prod", version)
    print(version, flush=True)


if __name__ == "__main__":
    main()
