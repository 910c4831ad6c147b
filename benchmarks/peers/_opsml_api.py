"""The benchmark for registries with OpsML 3's Python API (ours and OpsML 3 itself).

Both peers are driven by exactly the same calls; only the interpreter (virtualenv) differs,
plus two things OpsML 3's Python API does not cover: the URL and login of the raw HTTP
endpoint the requests/s case loads (:func:`metadata_request`).

The orchestrator runs each heavy group of cases (``data``, ``profile``, ``client`` with
``rps``) in a process of its own, so that one 160 MB frame at a time is in memory and each
group starts from a fresh process.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from _common import (
    SPACE,
    BenchArgs,
    case,
    claim_stdout,
    emit,
    http_load,
    import_times,
    log,
    make_frame,
    make_model,
    package_versions,
    repeat,
    seed_clones,
    sqlite_path,
    timed,
)

NAME = "rf"
QUERY_NAME = "rf-query"
DATA_NAME = "frame"
PROFILE_CHILD = Path(__file__).with_name("_profile_child.py")
# OpsML 3's test server creates this user; its API wants a bearer token even then.
OPSML3_LOGIN = {"Username": "admin", "Password": "admin"}
OPSML3_PORT = 3000  # fixed in OpsML 3's OpsmlTestServer


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
        cases = [c for c in args.cases if c in ("register", "load", "query")]
        if cases:
            _OpsmlBench(args).run(cases, results)
        if "data" in args.cases:
            with case(results, "data") as entry:
                entry.update(_DataBench.create(args).local_cases(results))
        if "profile" in args.cases:
            with case(results, "profile") as entry:
                entry.update(profile_case(args, results))
        if "client" in args.cases or "rps" in args.cases:
            client_cases(peer, args, results)
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
        self.uids: list[str] = []

    def new_card(self, name: str, **kwargs: Any) -> Any:
        """A fresh, unregistered ModelCard for the benchmark model."""
        interface = self.opsml.SklearnModel(model=self.clf, sample_data=self.x[:5])
        return self.opsml.ModelCard(interface=interface, space=SPACE, name=name, **kwargs)

    def register(self) -> float:
        """Register one new card of ``NAME``; return the seconds ``register_card`` took."""
        card = self.new_card(NAME)
        seconds = timed(lambda: self.registry.register_card(card))
        self.registered.append(card.version)
        self.uids.append(card.uid)
        return seconds

    def run(
        self, cases: list[str], results: dict[str, Any], prefix: str = "", n: int | None = None
    ) -> None:
        """Run ``cases`` in a fixed order, recording each into ``results[prefix + case]``.

        ``n`` overrides the sample counts of register and load (the client cases' count).
        """
        args = self.args
        register_n = args.register_n if n is None else n
        load_n = args.load_n if n is None else n
        if "register" in cases:
            with case(results, f"{prefix}register") as entry:
                for _ in range(args.warmup):
                    self.register()
                entry["samples"] = [self.register() for _ in range(register_n)]
                # OpsML 3 hands out duplicate versions under quick successive registrations.
                entry["registered"] = len(self.registered)
                entry["distinct_versions"] = len(set(self.registered))
        if "load" in cases:
            with case(results, f"{prefix}load") as entry:
                for _ in range(100):
                    if len(self.loadable()) >= min(load_n, 10):
                        break
                    self.register()
                versions = self.loadable()
                entry["samples"] = repeat(
                    lambda i: self.load(versions[i % len(versions)]), load_n, args.warmup
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


def timed_result(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and its result.

    The result outlives the timing, so freeing a large object is not timed (the same for
    the registry call and its pandas baseline).
    """
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


class _DataBench:
    """Register and load one large DataFrame through ``PandasData`` with one registry."""

    def __init__(self, args: BenchArgs, frame: Any, registry: Any, name: str = DATA_NAME) -> None:
        import opsml

        self.args = args
        self.opsml = opsml
        self.frame = frame
        self.registry = registry
        self.name = name
        self.uids: list[str] = []

    @classmethod
    def create(cls, args: BenchArgs) -> _DataBench:
        """Build the frame and a new data registry (its mode from the environment)."""
        import opsml

        log(f"building the {args.data_rows} x 10 frame")
        frame = make_frame(args.data_rows)
        return cls(args, frame, opsml.CardRegistry(opsml.RegistryType.Data))

    def info(self) -> dict[str, Any]:
        """The frame's shape and size, for the report."""
        rows, columns = self.frame.shape
        size = int(self.frame.memory_usage(index=True).sum())
        return {"rows": rows, "columns": columns, "frame_bytes": size}

    def register(self) -> float:
        """Register one new DataCard of the frame; return the seconds ``register_card`` took.

        Every card gets a name of its own: OpsML 3 can give two quick registrations of one
        name the same version, and loading either then fails with "Failed to decrypt file".
        """
        opsml = self.opsml
        name = f"{self.name}-{len(self.uids)}"
        card = opsml.DataCard(interface=opsml.PandasData(data=self.frame), space=SPACE, name=name)
        seconds = timed(lambda: self.registry.register_card(card))
        self.uids.append(card.uid)
        return seconds

    def load(self, uid: str, check: bool = False) -> float:
        """``load_card(uid=...)`` + ``card.load()``; with ``check``, compare to the frame."""

        def load() -> Any:
            card = self.registry.load_card(uid=uid)
            card.load()
            return card

        seconds, card = timed_result(load)
        if check:
            self.check(card.interface.data)
        return seconds

    def read_parquet(self, pd: Any, path: Path, check: bool = False) -> float:
        """``pd.read_parquet(path)``; with ``check``, compare to the frame."""
        seconds, frame = timed_result(partial(pd.read_parquet, path))
        if check:
            self.check(frame)
        return seconds

    def check(self, loaded: Any) -> None:
        """Raise unless ``loaded`` equals the frame (values, dtypes, index, labels)."""
        if type(loaded) is not type(self.frame) or not loaded.equals(self.frame):
            raise RuntimeError(f"the loaded data differs from the frame: {type(loaded)!r}")

    def local_cases(self, results: dict[str, Any]) -> dict[str, Any]:
        """Register / load vs pandas' ``to_parquet`` / ``read_parquet``, paired per sample.

        Each sample writes (reads) one baseline Parquet file next to the registry, on the
        same disk; the order of the two calls alternates between samples.
        """
        import pandas as pd

        n, warmup = self.args.data_n, 1
        folder = Path.cwd() / "parquet-baseline"
        folder.mkdir(exist_ok=True)
        writes: list[float] = []
        registers: list[float] = []
        for i in range(warmup + n):
            write_parquet = partial(self.frame.to_parquet, folder / f"frame-{i}.parquet")
            if i % 2 == 0:
                write = timed(write_parquet)
                reg = self.register()
            else:
                reg = self.register()
                write = timed(write_parquet)
            if i >= warmup:
                writes.append(write)
                registers.append(reg)
            log(f"data sample {i}: to_parquet {write:.3f} s, register {reg:.3f} s")
        reads: list[float] = []
        loads: list[float] = []
        for i in range(warmup + n):
            path = folder / f"frame-{i}.parquet"
            check = i == 0
            if i % 2 == 0:
                read = self.read_parquet(pd, path, check)
                load = self.load(self.uids[i], check)
            else:
                load = self.load(self.uids[i], check)
                read = self.read_parquet(pd, path, check)
            path.unlink()
            if i >= warmup:
                reads.append(read)
                loads.append(load)
            log(f"data sample {i}: read_parquet {read:.3f} s, load {load:.3f} s")
        info = self.info()
        results["data_register"] = {"samples": registers}
        results["data_to_parquet"] = {"samples": writes}
        results["data_load"] = {"samples": loads}
        results["data_read_parquet"] = {"samples": reads}
        return info

    def client_cases(self, local_registry: Any, results: dict[str, Any]) -> dict[str, Any]:
        """Register / load through the server, each paired with the same in local mode.

        ``self.registry`` is in client mode; ``local_registry`` (None: no pairing) was
        created before the test server started, so it is in local mode. Each sample runs
        both back to back (order alternating) in this one process, so the client / local
        ratio does not depend on when the ``data`` group ran or on what else the machine
        was doing then.
        """
        benches = {"client_data": self}
        if local_registry is not None:
            # Other names than the client's cards, in case both end up in one storage.
            name = f"{DATA_NAME}-local"
            benches["client_local"] = _DataBench(self.args, self.frame, local_registry, name)
        n, warmup = self.args.client_data_n, 1
        samples: dict[str, list[float]] = {}
        for step in ("register", "load"):
            for i in range(warmup + n):
                times: dict[str, float] = {}
                for key in list(benches) if i % 2 == 0 else list(benches)[::-1]:
                    bench = benches[key]
                    if step == "register":
                        times[key] = bench.register()
                    else:
                        times[key] = bench.load(bench.uids[i], check=i == 0)
                if i >= warmup:
                    for key, seconds in times.items():
                        samples.setdefault(f"{key}_{step}", []).append(seconds)
                shown = ", ".join(f"{key} {seconds:.3f} s" for key, seconds in times.items())
                log(f"client data sample {i}, {step}: {shown}")
        # The loads above find the files in the client's cache (ours keeps what it registered
        # or downloaded; OpsML 3 has no such cache): the same loads with the cache off, as a
        # client on another machine would do them the first time.
        cold: list[float] = []
        os.environ["OPSML_CACHE_MAX_BYTES"] = "0"
        try:
            for i in range(warmup, warmup + n):
                cold.append(self.load(self.uids[i], check=i == warmup))
                log(f"client data sample {i}, load with the cache off: {cold[-1]:.3f} s")
        finally:
            os.environ.pop("OPSML_CACHE_MAX_BYTES", None)
        samples["client_data_load_cold"] = cold
        results.update({key: {"samples": values} for key, values in samples.items()})
        info = self.info()
        if local_registry is None:
            skipped = {"skipped": "no local registry in the client process"}
            results.update(client_local_register=skipped, client_local_load=skipped)
        else:
            info["local_mode"] = str(local_registry.mode)
        return info


def profile_case(args: BenchArgs, results: dict[str, Any]) -> dict[str, Any]:
    """``PandasData(data=df).create_data_profile()``: time and peak extra RSS.

    Each sample is a fresh interpreter running ``_profile_child.py`` (see there).
    """
    runs: list[dict[str, Any]] = []
    for i in range(args.profile_n):
        cmd = [sys.executable, str(PROFILE_CHILD), str(args.data_rows)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        sys.stderr.write(proc.stderr)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"profile child exited {proc.returncode}: {tail[0]}")
        runs.append(json.loads(lines[-1]))
        log(f"profile sample {i}: {runs[-1]}")
    results["profile_memory"] = {"samples": [r["peak_extra_bytes"] for r in runs]}
    return {
        "samples": [r["seconds"] for r in runs],
        "rows": args.data_rows,
        "hwm_reset": all(r["hwm_reset"] for r in runs),
        "baseline_rss_bytes": [r["baseline_rss_bytes"] for r in runs],
    }


def port_in_use(port: int) -> bool:
    """Whether something listens on ``127.0.0.1:port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def client_env(name: str) -> str | None:
    """An environment variable as the C library sees it.

    OpsML 3's test server sets the client variables from Rust, which ``os.environ`` (a
    snapshot taken at start-up) does not see; ours sets them through ``os.environ``.
    """
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_char_p
    value = libc.getenv(name.encode())
    return value.decode() if value else os.environ.get(name)


def metadata_request(peer: str, uid: str) -> tuple[str, dict[str, str]]:
    """URL and headers of the raw "GET one card's metadata" call of the running server.

    Ours: ``GET /opsml/api/model/cards/{uid}`` (no auth configured: guest). OpsML 3:
    ``GET /opsml/api/card/metadata?uid=...&registry_type=Model`` with a bearer token from
    ``GET /opsml/api/auth/login`` (its test server's default user).
    """
    base = client_env("OPSML_TRACKING_URI")
    if not base or not base.startswith("http"):
        raise RuntimeError(f"OPSML_TRACKING_URI is not a server URL: {base!r}")
    base = base.rstrip("/")
    if peer != "opsml3":
        return f"{base}/opsml/api/model/cards/{uid}", {}
    login = urllib.request.Request(f"{base}/opsml/api/auth/login", headers=OPSML3_LOGIN)
    with urllib.request.urlopen(login, timeout=30) as response:
        token = json.loads(response.read())["token"]
    url = f"{base}/opsml/api/card/metadata?uid={uid}&registry_type=Model"
    return url, {"Authorization": f"Bearer {token}"}


def client_cases(peer: str, args: BenchArgs, results: dict[str, Any]) -> None:
    """Client mode against the peer's own ``opsml.mock.OpsmlTestServer``."""
    import opsml
    from opsml.mock import OpsmlTestServer

    with case(results, "client_setup") as setup:
        if peer == "opsml3" and port_in_use(OPSML3_PORT):
            raise RuntimeError(f"OpsML 3's test server needs port {OPSML3_PORT}, which is busy")
        # Created before the server sets the client variables: stays in local mode. Not for
        # OpsML 3: such a registry of it uses its test server's storage once that runs (its
        # timings equal the client ones, and same-name cards of the two overwrite each
        # other's files), so it is no local baseline there.
        local_data = opsml.CardRegistry(opsml.RegistryType.Data) if peer != "opsml3" else None
        start = time.perf_counter()
        with OpsmlTestServer():
            setup["startup_seconds"] = time.perf_counter() - start
            bench = _OpsmlBench(args)
            setup["mode"] = str(bench.registry.mode)
            if "client" not in setup["mode"].lower():
                raise RuntimeError(f"the registry is not in client mode: {setup['mode']}")
            if "client" in args.cases:
                bench.run(["register", "load"], results, prefix="client_", n=args.client_n)
                with case(results, "client_data") as entry:
                    entry.update(_DataBench.create(args).client_cases(local_data, results))
            if "rps" in args.cases:
                with case(results, "rps") as entry:
                    if not bench.uids:
                        bench.register()
                    entry.update(rps_case(peer, args, bench.uids[-1], results))


def rps_case(peer: str, args: BenchArgs, uid: str, results: dict[str, Any]) -> dict[str, Any]:
    """Requests/s and latency of GET card metadata under load (wrk, else Python threads)."""
    url, headers = metadata_request(peer, uid)
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    if uid.encode() not in body:
        raise RuntimeError(f"GET {url} did not return the card: {body[:200]!r}")
    path = url.split("/opsml/api", 1)[1].replace(uid, "{uid}")
    loads = http_load(url, headers, args.rps_seconds, args.rps_connections, args.rps_runs)
    failed = sum(load.errors for load in loads)
    if failed:
        raise RuntimeError(f"{failed} failed requests under load ({loads[0].tool})")
    results["rps_p50"] = {"samples": [load.p50 for load in loads]}
    results["rps_p99"] = {"samples": [load.p99 for load in loads]}
    return {
        "samples": [load.rps for load in loads],
        "endpoint": f"GET /opsml/api{path}",
        "body_bytes": len(body),
        "tool": loads[0].tool,
        "runs": [load.as_dict() for load in loads],
    }
