"""The ``opsml`` command line."""
