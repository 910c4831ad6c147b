"""Start the cloud storage emulators on free loopback ports (used by the cloud tests and by
``benchmarks/cloud_transfer.py``).

- S3: ``moto`` in server mode (``python -m moto.server``), reached over HTTP.
- GCS: ``gcp-storage-emulator`` (``python -m gcp_storage_emulator``), storing on disk.
- Azure Blob: ``azurite-blob`` from npm, installed by ``make emulators`` into
  ``.tools/azurite`` (``OPSML_AZURITE`` may name another executable).

Each :class:`Emulator` knows the environment a client needs to reach it and can create a
bucket (container). Processes are stopped with :meth:`Emulator.stop`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
AZURITE = Path(
    os.environ.get("OPSML_AZURITE", ROOT / ".tools/azurite/node_modules/.bin/azurite-blob")
)
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft; not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortTakenError(RuntimeError):
    """The emulator exited before it listened: most likely another process took its port
    between :func:`free_port` and the emulator's bind (the caller starts it again)."""


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PortTakenError(
                f"emulator exited early:\n{log.read_text(errors='replace')[-2000:]}"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0 and proc.poll() is None:
                return
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"emulator did not open port {port}:\n{log.read_text(errors='replace')}")


@dataclass
class Emulator:
    """One running emulator: its kind (``s3``, ``gcs``, ``azure``), process and client env."""

    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        """The storage URI scheme."""
        return {"s3": "s3", "gcs": "gs", "azure": "az"}[self.kind]

    def make_bucket(self, name: str) -> None:
        """Create a bucket (S3, GCS) or container (Azure)."""
        if self.kind == "s3":
            import boto3

            boto3.client(
                "s3",
                endpoint_url=self.env["AWS_ENDPOINT_URL_S3"],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            ).create_bucket(Bucket=name)
        elif self.kind == "gcs":
            import httpx

            httpx.post(
                f"http://127.0.0.1:{self.port}/storage/v1/b", json={"name": name}, timeout=30
            ).raise_for_status()
        else:
            from azure.storage.blob import BlobServiceClient

            BlobServiceClient.from_connection_string(
                self.env["AZURE_STORAGE_CONNECTION_STRING"]
            ).create_container(name)

    def stop(self) -> None:
        """Stop the process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _spawn(
    cmd: list[str], workdir: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "emulator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return proc, log


def start_s3(workdir: Path) -> Emulator:
    """moto's S3 in server mode."""
    port = free_port()
    proc, log = _spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], workdir
    )
    _wait_port(port, proc, log)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
    }
    return Emulator("s3", port, proc, env)


def _service_account(workdir: Path) -> Path:
    """A throwaway service-account key, so URLs can be signed as on real GCS."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "opsml-test",
        "private_key_id": base64.b16encode(os.urandom(8)).decode().lower(),
        "private_key": pem,
        "client_email": "opsml-test@opsml-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = workdir / "service-account.json"
    path.write_text(json.dumps(info))
    return path


def start_gcs(workdir: Path) -> Emulator:
    """gcp-storage-emulator, storing objects under ``workdir``."""
    port = free_port()
    proc, log = _spawn(
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-q",
        ],
        workdir,
        {"STORAGE_BASE": str(workdir), "STORAGE_DIR": "data"},
    )
    _wait_port(port, proc, log)
    env = {
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        "GOOGLE_APPLICATION_CREDENTIALS": str(_service_account(workdir)),
        "GOOGLE_CLOUD_PROJECT": "opsml-test",
    }
    return Emulator("gcs", port, proc, env)


def azurite_available() -> bool:
    """Whether the Azurite executable is installed (``make emulators``)."""
    return AZURITE.exists() and shutil.which("node") is not None


def start_azure(workdir: Path) -> Emulator:
    """Azurite's blob service, storing under ``workdir``."""
    port = free_port()
    proc, log = _spawn(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(workdir / "data"),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
        ],
        workdir,
    )
    _wait_port(port, proc, log)
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    return Emulator("azure", port, proc, {"AZURE_STORAGE_CONNECTION_STRING": conn})


STARTERS = {"s3": start_s3, "gcs": start_gcs, "azure": start_azure}


def start(kind: str, workdir: Path, attempts: int = 3) -> Emulator:
    """Start the emulator of ``kind``, again on a new port if another process took its port."""
    for attempt in range(attempts):
        try:
            return STARTERS[kind](workdir / f"attempt-{attempt}")
        except PortTakenError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
