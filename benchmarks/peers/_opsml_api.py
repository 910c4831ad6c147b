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
import tempfile
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
    parquet_layout,
    parquet_options,
    repeat,
    seed_clones,
    sqlite_path,
    stamp_frame,
    timed,
)

NAME = "rf"
QUERY_NAME = "rf-query"
DATA_NAME = "frame"
PROFILE_CHILD = Path(__file__).with_name("_profile_child.py")
LOAD_CHILD = Path(__file__).with_name("_load_child.py")
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
                entry.update(_DataBench.create(args).local_cases(peer, results))
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
                # Local mode: a first load (every byte hashed); client mode: as it comes.
                entry["samples"] = self.load_samples(versions, load_n, forget=not prefix)
                entry["versions_cycled"] = len(versions)
        if "query" in cases:
            self.query_cases(results)

    def loadable(self) -> list[str]:
        """Registered versions held by exactly one card.

        OpsML 3 can give two cards the same version; both then write to the same artifact
        folder and loading one of them fails to decrypt the other's files.
        """
        return [v for v in dict.fromkeys(self.registered) if self.registered.count(v) == 1]

    def load_samples(self, versions: list[str], n: int, forget: bool) -> list[float]:
        """``n`` timed loads after ``warmup`` untimed ones, cycling over ``versions``.

        With ``forget``, every file of the card gets a new modification time before each
        load (untimed): its fingerprint changes, so ours' verified-file cache no longer
        knows it and the load hashes every byte, as a first load does. (Without it, ours
        would hash nothing here: this process registered the cards.) OpsML 3 keeps no such
        cache; its files are touched all the same.
        """
        samples: list[float] = []
        for i in range(self.args.warmup + n):
            version = versions[i % len(versions)]
            if forget:
                for path in self.card_files(version):
                    os.utime(path)
            seconds = timed(partial(self.load, version))
            if i >= self.args.warmup:
                samples.append(seconds)
        return samples

    def card_files(self, version: str) -> list[Path]:
        """The files of version ``version`` of ``NAME`` in the local storage folder.

        Raises:
            RuntimeError: there are none (the storage layout is not the one expected).
        """
        folder = f"v{version}"
        storage = Path(os.environ["OPSML_STORAGE_URI"])
        files = [
            path
            for path in storage.rglob("*")
            if path.is_file() and folder in path.parts and NAME in path.parts
        ]
        if not files:
            raise RuntimeError(f"no files of {NAME} {folder} under {storage}")
        return files

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
        """``load_card(uid=...)`` + ``card.load()``; with ``check``, compare to the frame
        (stamped for the sample that registered ``uid`` by the caller)."""

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

    def local_cases(self, peer: str, results: dict[str, Any]) -> dict[str, Any]:
        """Register / load vs pandas' ``to_parquet`` / ``read_parquet``, paired per sample.

        Each sample writes one baseline Parquet file next to the registry (same disk) with
        ours' options (:func:`parquet_options`), and one more with pandas' defaults (an
        "info" row); the order of the calls rotates between samples. Loads come twice:
        *warm*, in this process, which registered the card (ours' verified-file cache knows
        its files: no hashing), paired with ``read_parquet`` here; and *cold*, in a fresh
        process with an empty cache (:func:`cold_load`), paired with ``read_parquet`` there.
        """
        import pandas as pd

        n, warmup = self.args.data_n, 1
        folder = Path.cwd() / "parquet-baseline"
        folder.mkdir(exist_ok=True)
        options = parquet_options(self.frame)
        samples: dict[str, list[float]] = {}
        for i in range(warmup + n):
            stamp_frame(self.frame, i)
            path = folder / f"frame-{i}.parquet"
            default_path = folder / f"frame-{i}-defaults.parquet"
            calls: list[tuple[str, Callable[[], float]]] = [
                (
                    "data_to_parquet",
                    partial(timed, partial(self.frame.to_parquet, path, **options)),
                ),
                ("data_register", self.register),
                (
                    "data_to_parquet_defaults",
                    partial(timed, partial(self.frame.to_parquet, default_path)),
                ),
            ]
            calls = calls[i % 3 :] + calls[: i % 3]
            times = {key: call() for key, call in calls}
            default_path.unlink()
            if i == 0:
                results["parquet_layout"] = self.compare_layout(peer, path, f"{self.name}-0")
            if i >= warmup:
                for key, seconds in times.items():
                    samples.setdefault(key, []).append(seconds)
            log(f"data sample {i}, write: {_shown(times)}")
        env = c_environ()
        for i in range(warmup + n):
            stamp_frame(self.frame, i)
            path = folder / f"frame-{i}.parquet"
            check = i == warmup
            times = {}
            if i % 2 == 0:
                times["data_read_parquet"] = self.read_parquet(pd, path, check)
                times["data_load"] = self.load(self.uids[i], check)
            else:
                times["data_load"] = self.load(self.uids[i], check)
                times["data_read_parquet"] = self.read_parquet(pd, path, check)
            if i >= warmup:
                cold = cold_load(
                    self.uids[i], env, path, i % 2 == 1, self.check_rows(check), stamp=i
                )
                times["data_load_cold"] = cold["load"]
                times["data_read_parquet_cold"] = cold["read_parquet"]
                for key, seconds in times.items():
                    samples.setdefault(key, []).append(seconds)
            path.unlink()
            log(f"data sample {i}, read: {_shown(times)}")
        results.update({key: {"samples": values} for key, values in samples.items()})
        return {**self.info(), "parquet_options": options}

    def check_rows(self, check: bool) -> int:
        """The ``--check-rows`` of a cold load: the frame's rows to compare, or 0."""
        return int(self.frame.shape[0]) if check else 0

    def compare_layout(self, peer: str, baseline: Path, name: str) -> dict[str, Any]:
        """Check that the baseline file has the layout of the file ours registered as the
        card ``name``.

        Raises:
            RuntimeError: ours' file and the baseline were written with other options.
        """
        if peer != "ours":  # OpsML 3 encrypts its files: there is no footer to read
            return {"checked": False, "why": f"{peer} stores its files encrypted"}
        storage = Path(os.environ["OPSML_STORAGE_URI"])
        stored = [p for p in storage.rglob("*.parquet") if name in p.parts]
        if len(stored) != 1:
            raise RuntimeError(f"expected one Parquet file of {name} in {storage}: {stored}")
        ours, base = parquet_layout(stored[0]), parquet_layout(baseline)
        if ours != base:
            raise RuntimeError(f"the baseline Parquet differs from ours: {base} vs {ours}")
        return {"checked": True, "layout": ours}

    def client_cases(
        self, local_registry: Any, local_env: dict[str, str], results: dict[str, Any]
    ) -> dict[str, Any]:
        """Register / load through the server, each paired with the same in local mode.

        ``self.registry`` is in client mode; ``local_registry`` (None: no pairing) was
        created before the test server started, so it is in local mode, and ``local_env``
        is the environment from before the server started. Each sample runs both back to
        back (order alternating) in this one process, so the client / local ratio does not
        depend on when the ``data`` group ran or on what else the machine was doing then.
        The loads come twice: from this process, which registered the cards (ours' client
        keeps registered files in its cache; locally its verified-file cache knows them),
        and first loads in fresh processes (:func:`cold_load`): the client one with its
        cache off, the local one with an empty verified-file cache.
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
                stamp_frame(self.frame, i)  # both registries register the same new bytes
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
                log(f"client data sample {i}, {step}: {_shown(times)}")
        # As the C library sees it: OpsML 3 sets its client variables from Rust.
        envs = {"client_data": c_environ() | {"OPSML_CACHE_MAX_BYTES": "0"}}
        if local_registry is not None:
            envs["client_local"] = local_env
        for i in range(warmup, warmup + n):
            times = {}
            check = self.check_rows(i == warmup)
            for key in list(benches) if i % 2 == 0 else list(benches)[::-1]:
                uid = benches[key].uids[i]
                times[key] = cold_load(uid, envs[key], check_rows=check, stamp=i)["load"]
                samples.setdefault(f"{key}_load_cold", []).append(times[key])
            log(f"client data sample {i}, first load in a fresh process: {_shown(times)}")
        results.update({key: {"samples": values} for key, values in samples.items()})
        info = self.info()
        if local_registry is None:
            skipped = {"skipped": "no local registry in the client process"}
            for key in ("client_local_register", "client_local_load", "client_local_load_cold"):
                results[key] = skipped
        else:
            info["local_mode"] = str(local_registry.mode)
        return info


def _shown(times: dict[str, float]) -> str:
    return ", ".join(f"{key} {seconds:.3f} s" for key, seconds in times.items())


def cold_load(
    uid: str,
    env: dict[str, str],
    parquet: Path | None = None,
    parquet_first: bool = False,
    check_rows: int = 0,
    stamp: int | None = None,
) -> dict[str, float]:
    """A first load of card ``uid`` in a fresh interpreter (``_load_child.py``).

    The child gets ``env`` with ``XDG_CACHE_HOME`` set to a new, empty folder: ours'
    verified-file cache (``verified.sqlite3``) and client cache start empty, so every byte
    of the card is hashed, as in the first load on a machine. With ``parquet``, the child
    also reads that file with ``pd.read_parquet``, back to back with the load. With
    ``check_rows``, the child compares what it loaded to the frame as :func:`stamp_frame`
    stamped it for sample ``stamp``.

    Returns:
        The seconds of ``load`` (and ``read_parquet``), as the child measured them.
    """
    cmd = [sys.executable, str(LOAD_CHILD), uid]
    if parquet is not None:
        cmd += ["--parquet", str(parquet)] + (["--parquet-first"] if parquet_first else [])
    if check_rows:
        cmd += ["--check-rows", str(check_rows)]
        if stamp is not None:
            cmd += ["--stamp", str(stamp)]
    tmp = Path(env.get("TMPDIR") or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="cold-cache-", dir=tmp) as cache:
        proc = subprocess.run(
            cmd, env={**env, "XDG_CACHE_HOME": cache}, capture_output=True, text=True, check=False
        )
    sys.stderr.write(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"cold load child exited {proc.returncode}: {tail[0]}")
    seconds: dict[str, float] = json.loads(lines[-1])
    return seconds


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


def c_environ() -> dict[str, str]:
    """This process's whole environment as the C library holds it (see :func:`client_env`):
    what a child process started with it would inherit."""
    libc = ctypes.CDLL(None)
    envp = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
    env: dict[str, str] = {}
    i = 0
    while (item := envp[i]) is not None:
        key, _, value = item.decode(errors="surrogateescape").partition("=")
        env[key] = value
        i += 1
    return env


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
        local_env = c_environ()
        start = time.perf_counter()
        with OpsmlTestServer():
            setup["startup_seconds"] = time.perf_counter() - start
            bench = _OpsmlBench(args)
            setup["mode"] = str(bench.registry.mode)
            if "client" not in setup["mode"].lower():
                raise RuntimeError(f"the registry is not in client mode: {setup['mode']}")
            if "client" in args.cases:
                bench.run(["register", "load"], results, prefix="client_", n=args.client_n)
                # Ours' client keeps the files it registered in its cache, so those loads
                # download nothing: reported beside the target's loads, which fetch every
                # byte, as on a machine that never saw the card (no effect on OpsML 3).
                results["client_load_cached"] = results.pop("client_load")
                os.environ["OPSML_CACHE_MAX_BYTES"] = "0"
                try:
                    # Settings are read when a registry is created: a new one, cache off.
                    bench.registry = opsml.CardRegistry(opsml.RegistryType.Model)
                    bench.run(["load"], results, prefix="client_", n=args.client_n)
                finally:
                    os.environ.pop("OPSML_CACHE_MAX_BYTES", None)
                with case(results, "client_data") as entry:
                    bench_data = _DataBench.create(args)
                    entry.update(bench_data.client_cases(local_data, local_env, results))
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
