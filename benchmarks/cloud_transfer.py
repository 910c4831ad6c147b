"""Upload and download throughput of one large file per cloud, on the emulators (loopback).

Measured per cloud, in the same run and against the same emulator process:

- ours, local mode: ``ObjectStorage.commit`` of a staged file (upload, size-checked) and
  ``materialize`` (download, SHA-256 verified), as a registry in local mode does;
- ours, client mode: a real ``opsml`` server process on the bucket (warmed up by one small
  card), and a user's ``register_card`` of a DataCard holding the file (saved as a hard
  link; SHA-256 manifest, reserve, parts sent straight to the bucket on presigned URLs,
  commit) and ``load_card`` + ``download_artifacts`` (presigned GET, hashed as it arrives;
  the client's cache of registered files is turned off, so the bytes are fetched);
- direct: the cloud's own client library (boto3's managed ``upload_file``/``download_file``,
  gcsfs ``put_file``/``get_file``, azure-storage-blob ``upload_blob``/``download_blob`` with
  ``max_concurrency=8``);
- obstore (Rust ``object_store``), when installed: ``obstore.put`` of the file path (its
  multipart defaults) and a streamed ``obstore.get``, to decide between fsspec and obstore
  (docs/storage.md). On gcp-storage-emulator its multipart upload fails: object_store uses
  GCS's XML multipart API (``POST …?uploads``), which the emulator does not implement;
- OpsML 3 (``opsml==3.0.0rc16`` in ``.bench-venvs/opsml3``, from ``setup_venvs.sh``), local
  mode: ``start_experiment`` + ``log_artifact`` (an ExperimentCard holding the file), then
  ``load_card`` + ``download_artifacts``. Its Rust core reads ``OPSML_STORAGE_URI``; S3 goes
  through the AWS SDK for Rust, which honours ``AWS_ENDPOINT_URL``, so it runs on moto. It
  cannot be pointed at the other two emulators: its GCS client has no endpoint setting
  (``STORAGE_EMULATOR_HOST`` is ignored) and always fetches an OAuth token from
  ``oauth2.googleapis.com`` (panics offline, with the emulator's service-account key in
  ``GOOGLE_APPLICATION_CREDENTIALS``); its Azure client takes only
  ``AZURE_STORAGE_ACCOUNT`` with Azure AD credentials (no account key or connection
  string, fixed ``https://{account}.blob.core.windows.net`` endpoint) and panics with
  "failed to get bearer token" with ``AZURE_STORAGE_ACCOUNT=devstoreaccount1``. Each run
  tries all three again and records the outcome as found.

Usage::

    python benchmarks/cloud_transfer.py              # 1 GiB per cloud, best of 2 (make bench)
    python benchmarks/cloud_transfer.py --size-mb 256 --rounds 1 --clouds s3

Writes the ``cloud`` section of benchmarks/RESULTS.md (with the defaults; any other size,
rounds or clouds write it into benchmarks/.work/RESULTS-partial.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cloud"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _emulators import STARTERS, Emulator, azurite_available  # noqa: E402
from _load import command_line, now_utc  # noqa: E402
from _sections import (  # noqa: E402
    add_load_arguments,
    gate_from,
    results_path,
    section_header,
    write_section,
)

from opsml import CardRegistry, DataCard, RegistryType  # noqa: E402
from opsml.data import (  # noqa: E402
    DataInterface,
    DataInterfaceSaveMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
)
from opsml.mock import OpsmlTestServer  # noqa: E402
from opsml.settings import CloudConfig  # noqa: E402
from opsml.storage import Manifest, ObjectStorage, open_storage  # noqa: E402

OPSML3_PYTHON = ROOT / ".bench-venvs" / "opsml3" / "bin" / "python"
KEY = "bench/data.bin"
Timing = tuple[float, float] | str
"""Upload and download seconds, or why the peer could not run."""


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


class FileData(DataInterface):
    """A file on disk as a card's data; saved as a hard link, so registering times the
    registry's own work (hashing, transfer, commit) rather than a copy."""

    def _validate_data(self, data: Any) -> None:
        return None

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        try:
            os.link(self.data, path / "data.bin")
        except OSError:
            shutil.copyfile(self.data, path / "data.bin")
        return DataInterfaceSaveMetadata(data_uri="data.bin")

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        self.data = path / metadata.data_uri


def _direct(emulator: Emulator, bucket: str, src: Path, dest: Path) -> Timing:
    """Upload and download with the cloud's own library."""
    if emulator.kind == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=emulator.env["AWS_ENDPOINT_URL_S3"])
        up = _timed(lambda: client.upload_file(str(src), bucket, KEY))
        down = _timed(lambda: client.download_file(bucket, KEY, str(dest)))
        client.delete_object(Bucket=bucket, Key=KEY)
    elif emulator.kind == "gcs":
        import gcsfs

        fs = gcsfs.GCSFileSystem(token="anon", skip_instance_cache=True)
        up = _timed(lambda: fs.put_file(str(src), f"{bucket}/{KEY}"))
        down = _timed(lambda: fs.get_file(f"{bucket}/{KEY}", str(dest)))
        fs.rm(f"{bucket}/{KEY}")
    else:
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(
            emulator.env["AZURE_STORAGE_CONNECTION_STRING"]
        )
        blob = service.get_blob_client(bucket, KEY)

        def upload() -> None:
            with src.open("rb") as fh:
                blob.upload_blob(fh, overwrite=True, max_concurrency=8)

        def download() -> None:
            with dest.open("wb") as fh:
                blob.download_blob(max_concurrency=8).readinto(fh)

        up = _timed(upload)
        down = _timed(download)
        blob.delete_blob()
    dest.unlink(missing_ok=True)
    return up, down


def _local(uri: str, src: Path, work: Path) -> Timing:
    """Local mode: commit of one staged file, then a verified download."""
    storage = open_storage(uri, cloud=CloudConfig.from_env())
    assert isinstance(storage, ObjectStorage)
    staging = storage.new_staging()
    os.link(src, staging / "data.bin")
    manifest = Manifest.from_dir(staging)
    up = _timed(lambda: storage.commit(staging, "bench/s/n/v1.0.0"))
    out = work / "local-out"
    down = _timed(lambda: storage.materialize("bench/s/n/v1.0.0", manifest, out))
    shutil.rmtree(out)
    storage.delete("bench/s/n/v1.0.0")
    return up, down


def _client(emulator: Emulator, uri: str, src: Path, work: Path) -> Timing:
    """Client mode: register a DataCard holding the file through a real server process,
    then load it and download its artifacts."""
    env = {**emulator.env, "OPSML_STORAGE_URI": uri}
    # No client-side cache of registered files: the load must fetch the bytes.
    os.environ["OPSML_CACHE_MAX_BYTES"] = "0"
    server = Path(tempfile.mkdtemp(prefix="server-", dir=work))
    with OpsmlTestServer(base_path=server, env=env):
        registry = CardRegistry(RegistryType.Data)
        # A running server, as users meet it: its storage clients built by a first card.
        small = work / "small.bin"
        small.write_bytes(b"warm-up")
        registry.register_card(DataCard(interface=FileData(data=small), space="bench", name="s"))
        card = DataCard(interface=FileData(data=src), space="bench", name="big")
        up = _timed(lambda: registry.register_card(card))
        out = work / "client-out"

        def load() -> None:
            loaded = registry.load_card(uid=card.uid, interface=FileData())
            loaded.download_artifacts(out)

        down = _timed(load)
        shutil.rmtree(out)
        registry.delete_card(card)
    shutil.rmtree(server, ignore_errors=True)
    return up, down


def _obstore(emulator: Emulator, bucket: str, src: Path, dest: Path) -> Timing:
    """``obstore.put`` of the file (multipart, its defaults) and a streamed ``get``."""
    try:
        import obstore
        from obstore.store import AzureStore, GCSStore, S3Store
    except ImportError:
        return "not installed"
    store: Any
    if emulator.kind == "s3":
        store = S3Store(
            bucket,
            endpoint=emulator.env["AWS_ENDPOINT_URL_S3"],
            access_key_id=emulator.env["AWS_ACCESS_KEY_ID"],
            secret_access_key=emulator.env["AWS_SECRET_ACCESS_KEY"],
            region=emulator.env["AWS_DEFAULT_REGION"],
            client_options={"allow_http": True},
        )
    elif emulator.kind == "gcs":
        account = dest.with_name("obstore-gcs.json")
        account.write_text(
            json.dumps(
                {
                    "gcs_base_url": emulator.env["STORAGE_EMULATOR_HOST"],
                    "disable_oauth": True,
                    "client_email": "",
                    "private_key": "",
                    "private_key_id": "",
                }
            )
        )
        store = GCSStore(bucket, service_account=str(account), client_options={"allow_http": True})
    else:
        conn = dict(
            item.split("=", 1)
            for item in emulator.env["AZURE_STORAGE_CONNECTION_STRING"].split(";")
            if item
        )
        store = AzureStore(
            bucket,
            account_name=conn["AccountName"],
            account_key=conn["AccountKey"],
            endpoint=conn["BlobEndpoint"],
            client_options={"allow_http": True},
        )

    def download() -> None:
        with dest.open("wb") as fh:
            for chunk in obstore.get(store, KEY).stream(min_chunk_size=8 * 1024 * 1024):
                fh.write(chunk)

    try:
        up = _timed(lambda: obstore.put(store, KEY, src))
        down = _timed(download)
        obstore.delete(store, KEY)
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        dest.unlink(missing_ok=True)
    if dest.exists():
        dest.unlink()
    return up, down


_OPSML3_SCRIPT = """
import json, sys, time
from pathlib import Path
from opsml import CardRegistry, RegistryType
from opsml.experiment import start_experiment

src, out = Path(sys.argv[1]), Path(sys.argv[2])
start = time.perf_counter()
with start_experiment(space="bench", name="big") as exp:
    exp.log_artifact(src)
    uid = exp.card.uid
up = time.perf_counter() - start
start = time.perf_counter()
card = CardRegistry(RegistryType.Experiment).load_card(uid=uid)
out.mkdir(parents=True, exist_ok=True)
card.download_artifacts(lpath=out)
down = time.perf_counter() - start
if (out / src.name).stat().st_size != src.stat().st_size:
    raise SystemExit("downloaded file has the wrong size")
print(json.dumps([up, down]))
"""


def _opsml3(emulator: Emulator, uri: str, src: Path, work: Path) -> Timing:
    """OpsML 3 in local mode on the emulator, in its own virtualenv: an experiment logging
    the file as an artifact (an ExperimentCard holding it), then ``load_card`` +
    ``download_artifacts``. Its Rust core reads ``OPSML_STORAGE_URI`` and, for S3, the AWS
    SDK's ``AWS_ENDPOINT_URL``; for GCS and Azure it has no endpoint setting (the failure is
    recorded)."""
    if not OPSML3_PYTHON.exists():
        return "no .bench-venvs/opsml3 (benchmarks/setup_venvs.sh opsml3)"
    home = Path(tempfile.mkdtemp(prefix="opsml3-", dir=work))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.update(emulator.env)
    env.update(
        OPSML_STORAGE_URI=uri.rsplit("/", 1)[0],
        OPSML_TRACKING_URI=f"sqlite:///{home / 'opsml.db'}",
        AWS_ENDPOINT_URL=emulator.env.get("AWS_ENDPOINT_URL_S3", ""),
        AZURE_STORAGE_ACCOUNT="devstoreaccount1",
    )
    try:
        done = subprocess.run(
            [str(OPSML3_PYTHON), "-c", _OPSML3_SCRIPT, str(src), str(home / "out")],
            check=False,
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except subprocess.TimeoutExpired:
        return "failed: no answer in 30 minutes"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0:
        last = [line for line in done.stderr.splitlines() if line.strip()][-1:]
        return f"failed: {last[0][:400] if last else done.returncode}"
    up, down = json.loads(done.stdout.strip().splitlines()[-1])
    return float(up), float(down)


PEERS = ("direct", "local", "client", "obstore", "opsml3")
SIZE_MB, ROUNDS, CLOUDS = 1024, 2, "s3,gcs,azure"
EXPLAINED = [
    "What is timed. *Direct*: boto3 `upload_file`/`download_file` (managed transfer: 8 MiB "
    "parts, 10 threads, ranged GETs), gcsfs `put_file`/`get_file`, azure-storage-blob "
    "`upload_blob`/`download_blob` with `max_concurrency=8`. *Ours, local mode*: "
    "`ObjectStorage.commit` of the staged file (upload and size check) and `materialize` "
    "(download, SHA-256 verified). *Ours, client mode*: what a user waits for: "
    "`register_card` of a DataCard holding the file (SHA-256 manifest, reserve, presigned "
    "parts straight to the bucket, commit by a real server process) and `load_card` + "
    "`download_artifacts` (presigned GET, hashed as it arrives). *obstore*: `obstore.put` of "
    "the path and a streamed `obstore.get`. *OpsML 3*: local mode, `start_experiment` + "
    "`log_artifact` of the file, then `load_card` + `download_artifacts`.",
    "",
    "Reading the numbers. moto answers each ranged GET by copying the whole object, so "
    "boto3's parallel ranged download is slow there (real S3 is not); every other S3 "
    "download is one streamed GET. S3 multipart uploads started without a checksum "
    "algorithm (presigned parts in client mode, s3fs) make moto compute a whole-object "
    "CRC64NVME at completion; local mode now starts them with CRC32 like boto3 (this, and "
    "s3fs sending every part from one event-loop thread, was the 0.57x). OpsML 3 and obstore "
    "cannot run on some emulators: see the notes, and the docstring of "
    "benchmarks/cloud_transfer.py for what was tried.",
]


def _measure(peer: str, emulator: Emulator, src: Path, work: Path) -> Timing:
    uri = f"{emulator.scheme}://bench/opsml"
    dest = work / "peer.bin"
    if peer == "direct":
        return _direct(emulator, "bench", src, dest)
    if peer == "local":
        return _local(uri, src, work)
    if peer == "client":
        return _client(emulator, uri, src, work)
    if peer == "obstore":
        return _obstore(emulator, "bench", src, dest)
    return _opsml3(emulator, uri, src, work)


def _best(old: Timing | None, new: Timing) -> Timing:
    if old is None or isinstance(old, str):
        return new
    if isinstance(new, str):
        return old
    return min(old[0], new[0]), min(old[1], new[1])


def _cell(timing: Timing, index: int, size: int, base: Timing | None = None) -> str:
    if isinstance(timing, str):
        return "n/a"
    text = f"{size / 1e6 / timing[index]:.0f}"
    if base is not None and not isinstance(base, str):
        text += f" ({base[index] / timing[index]:.2f}x)"
    return text


def measure(clouds: list[str], size: int, rounds: int) -> dict[str, dict[str, Timing]]:
    """Every peer on every cloud's emulator, best of ``rounds``, with one ``size``-byte file."""
    results: dict[str, dict[str, Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="opsml-cloud-bench-") as tmp:
        work = Path(tmp)
        src = work / "source.bin"
        with src.open("wb") as fh:
            block = os.urandom(1024 * 1024)
            for _ in range(size // len(block)):
                fh.write(block)
        for kind in clouds:
            if kind == "azure" and not azurite_available():
                print("azure: skipped (run `make emulators`)")
                continue
            emulator = STARTERS[kind](work / f"emulator-{kind}")
            saved = dict(os.environ)
            found: dict[str, Timing] = {}
            results[kind] = found
            try:
                os.environ.update(emulator.env)
                emulator.make_bucket("bench")
                for round_ in range(rounds):
                    # Each round starts with another peer, so none always runs first.
                    order = PEERS[round_ % len(PEERS) :] + PEERS[: round_ % len(PEERS)]
                    for peer in order:
                        if isinstance(found.get(peer), str):
                            continue  # a peer that cannot run is tried once
                        timing = _measure(peer, emulator, src, work)
                        print(f"{kind} round {round_ + 1} {peer}: {timing}", flush=True)
                        found[peer] = _best(found.get(peer), timing)
            finally:
                emulator.stop()
                os.environ.clear()
                os.environ.update(saved)
    return results


def main() -> None:
    """Measure the transfers and write the ``cloud`` section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=SIZE_MB)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="best of this many runs")
    parser.add_argument("--clouds", default=CLOUDS)
    parser.add_argument("--results", type=Path, help="report to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    clouds = args.clouds.split(",")
    # Long (15 minutes and more): marked when loaded, not measured again.
    gate, date, command = gate_from(args, repeats=0), now_utc(), command_line()
    results = gate.measure("the cloud transfers", lambda: measure(clouds, size, args.rounds))
    rows = []
    notes = []
    for kind, found in results.items():
        base = found["direct"]
        for index, way in ((0, "upload"), (1, "download")):
            rows.append(
                f"| {kind} | {way} | {_cell(base, index, size)} "
                + " ".join(f"| {_cell(found[p], index, size, base)}" for p in PEERS[1:])
                + " |"
            )
        notes += [f"- {kind}, {p}: {found[p]}" for p in PEERS if isinstance(found[p], str)]
    table = [
        "| cloud | way | direct | ours, local mode | ours, client mode | obstore | OpsML 3 |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    lines = [
        "## Cloud storage transfers (issue 7)",
        "",
        *section_header(gate, date, command),
        "",
        f"One {args.size_mb} MiB file, emulators on loopback, best of {args.rounds} rounds. "
        "MB/s, and in brackets the ratio to direct (target >= 0.8x); n/a: see the notes.",
        "",
        *table,
        "",
        *notes,
        "",
        *EXPLAINED,
    ]
    reference = (args.size_mb, args.rounds, args.clouds) == (SIZE_MB, ROUNDS, CLOUDS)
    path = results_path(args.results, reference)
    print(write_section(path, "cloud", lines))
    print(f"[bench] section cloud written to {path}")


if __name__ == "__main__":
    main()
