"""The benchmark for registries with OpsML 3's Python API (ours and OpsML 3 itself).

Both peers are driven by exactly the same calls; only the interpreter (virtualenv) differs.
"""

from __future__ import annotations

import os
from typing import Any

from _common import (
    SPACE,
    BenchArgs,
    case,
    claim_stdout,
    emit,
    import_times,
    log,
    make_model,
    package_versions,
    repeat,
    seed_clones,
    sqlite_path,
    timed,
)

NAME = "rf"
QUERY_NAME = "rf-query"


def run(peer: str, args: BenchArgs, packages: list[str]) -> None:
    """Run the requested cases against ``opsml`` in this interpreter and emit the JSON."""
    out = claim_stdout()
    results: dict[str, Any] = {}
    try:
        if "import" in args.cases:
            # First, while this process has imported nothing heavy (the page cache is warm
            # either way: the helper runs the import once untimed).
            with case(results, "import") as entry:
                entry.update(import_times("opsml", args.import_n))
        cases = [c for c in args.cases if c != "import"]
        if cases:
            _OpsmlBench(args).run(cases, results)
    finally:
        emit(out, {"peer": peer, "packages": package_versions(packages), "cases": results})


class _OpsmlBench:
    """The registry cases; one instance per peer process."""

    def __init__(self, args: BenchArgs) -> None:
        import opsml

        self.args = args
        self.opsml = opsml
        self.clf, self.x = make_model()
        self.registry = opsml.CardRegistry(opsml.RegistryType.Model)
        self.registered: list[str] = []

    def new_card(self, name: str, **kwargs: Any) -> Any:
        """A fresh, unregistered ModelCard for the benchmark model."""
        interface = self.opsml.SklearnModel(model=self.clf, sample_data=self.x[:5])
        return self.opsml.ModelCard(interface=interface, space=SPACE, name=name, **kwargs)

    def register(self) -> float:
        """Register one new card of ``NAME``; return the seconds ``register_card`` took."""
        card = self.new_card(NAME)
        seconds = timed(lambda: self.registry.register_card(card))
        self.registered.append(card.version)
        return seconds

    def run(self, cases: list[str], results: dict[str, Any]) -> None:
        """Run ``cases`` in a fixed order, recording each into ``results``."""
        args = self.args
        if "register" in cases:
            with case(results, "register") as entry:
                for _ in range(args.warmup):
                    self.register()
                entry["samples"] = [self.register() for _ in range(args.register_n)]
                # OpsML 3 hands out duplicate versions under quick successive registrations.
                entry["registered"] = len(self.registered)
                entry["distinct_versions"] = len(set(self.registered))
        if "load" in cases:
            with case(results, "load") as entry:
                for _ in range(100):
                    if len(self.loadable()) >= min(args.load_n, 10):
                        break
                    self.register()
                versions = self.loadable()
                entry["samples"] = repeat(
                    lambda i: self.load(versions[i % len(versions)]), args.load_n, args.warmup
                )
                entry["versions_cycled"] = len(versions)
        if "query" in cases:
            self.query_cases(results)

    def loadable(self) -> list[str]:
        """Registered versions held by exactly one card.

        OpsML 3 can give two cards the same version; both then write to the same artifact
        folder and loading one of them fails to decrypt the other's files.
        """
        return [v for v in dict.fromkeys(self.registered) if self.registered.count(v) == 1]

    def load(self, version: str) -> None:
        """``load_card`` + ``card.load()`` of one registered version."""
        card = self.registry.load_card(space=SPACE, name=NAME, version=version)
        card.load()
        if type(card.model) is not type(self.clf):
            raise RuntimeError(f"card.load() gave {type(card.model)!r}")

    def query_cases(self, results: dict[str, Any]) -> None:
        """list_cards / load_card("1.*") with ``args.seed_cards`` cards in the table."""
        args, opsml = self.args, self.opsml
        with case(results, "query_setup") as setup:
            # The measured name gets real registrations with explicit versions 1.0.0 ...
            # 10.9.0 (explicit, so both peers hold the same versions whatever their
            # allocation does), ten of them matching "1.*".
            for i in range(args.query_versions):
                card = self.new_card(QUERY_NAME, version=f"{1 + i // 10}.{i % 10}.0")
                self.registry.register_card(card)
            table = self.registry.table_name
            db = sqlite_path(os.environ["OPSML_TRACKING_URI"])
            log(f"seeding {table} of {db} up to {args.seed_cards} rows")
            setup.update(seed_clones(db, table, card.uid, args.seed_cards))
            setup["query_versions"] = args.query_versions
            log(f"seeded in {setup['seconds']:.2f} s; the table has {setup['table_rows']} rows")

            registry = opsml.CardRegistry(opsml.RegistryType.Model)
            listed = registry.list_cards(space=SPACE, name=QUERY_NAME, limit=25)
            top = registry.load_card(space=SPACE, name=QUERY_NAME, version="1.*")
            check = {"listed": len(listed), "first": listed[0].version, "load_1x": top.version}
            setup["check"] = check
            if len(listed) != 25 or not str(top.version).startswith("1."):
                raise RuntimeError(f"unexpected query results: {check}")
        if "error" in setup:
            return
        with case(results, "list_cards") as entry:
            entry["samples"] = repeat(
                lambda _: registry.list_cards(space=SPACE, name=QUERY_NAME, limit=25),
                args.query_n,
                args.warmup,
            )
        with case(results, "load_card") as entry:
            entry["samples"] = repeat(
                lambda _: registry.load_card(space=SPACE, name=QUERY_NAME, version="1.*"),
                args.query_n,
                args.warmup,
            )
