"""Where a server receives files bound for object storage comes from its configuration."""

from __future__ import annotations

from pathlib import Path

from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig


def test_the_relay_folder_is_read_once_from_the_environment(tmp_path: Path) -> None:
    env = {
        "OPSML_TRACKING_URI": "sqlite:///:memory:",
        "OPSML_STORAGE_URI": "s3://bucket/registry",
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
    }
    relay = ServerConfig.from_env(env).relay_folder()
    assert relay.parent == tmp_path / "xdg" / "opsml" / "server-uploads"
    other_bucket = ServerConfig.from_env({**env, "OPSML_STORAGE_URI": "s3://other/registry"})
    assert other_bucket.relay_folder() != relay, "one folder per storage"
    given = ServerConfig.from_env({**env, "OPSML_UPLOAD_DIR": str(tmp_path / "up")})
    assert given.relay_folder() == tmp_path / "up"


def test_a_configuration_built_by_hand_relays_through_a_private_temporary_folder() -> None:
    config = ServerConfig(opsml=OpsmlConfig(tracking_uri="sqlite://", storage_uri="s3://b/p"))
    folder = config.relay_folder()
    try:
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o077 == 0
    finally:
        folder.rmdir()
