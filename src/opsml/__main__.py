"""``python -m opsml``: the ``opsml`` command line, for when its script is not on PATH."""

from opsml.cli.main import main

if __name__ == "__main__":
    main()
