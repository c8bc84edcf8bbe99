"""Configuration: environment, TOML file, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from callcenter.config import DEFAULT_DATABASE_URL, load_settings


def test_defaults_are_the_embedded_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CALLCENTER_DATABASE_URL", "CALLCENTER_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.http_port == 8000
    assert [n.name for n in settings.ami_nodes] == ["pbx1"]
    assert settings.ami_nodes[0].secret is None  # never a secret in the repo


def test_environment_and_nested_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", "postgresql+asyncpg://u@db/cc")
    monkeypatch.setenv(
        "CALLCENTER_AMI_NODES",
        '[{"name":"a","host":"10.0.0.5","secret":"s1"},{"name":"b","port":5039}]',
    )
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u@db/cc"
    assert [(n.name, n.host, n.port) for n in settings.ami_nodes] == [
        ("a", "10.0.0.5", 5038),
        ("b", "127.0.0.1", 5039),
    ]
    assert settings.ami_nodes[0].secret is not None
    assert settings.ami_nodes[0].secret.get_secret_value() == "s1"
    assert "s1" not in repr(settings)


def test_toml_file_below_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "cc.toml"
    toml.write_text('http_port = 9000\nlog_level = "DEBUG"\n', encoding="utf-8")
    monkeypatch.setenv("CALLCENTER_CONFIG_FILE", str(toml))
    monkeypatch.setenv("CALLCENTER_LOG_LEVEL", "WARNING")
    settings = load_settings()
    assert settings.http_port == 9000
    assert settings.log_level == "WARNING"


def test_bad_values_say_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", "mysql://x/y")
    with pytest.raises(ValidationError, match="CALLCENTER_DATABASE_URL must start with"):
        load_settings()
    monkeypatch.delenv("CALLCENTER_DATABASE_URL")
    monkeypatch.setenv("CALLCENTER_AMI_NODES", '[{"name":"a"},{"name":"a"}]')
    with pytest.raises(ValidationError, match="node names must be unique"):
        load_settings()


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_CONFIG_FILE", "/nonexistent/cc.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/cc\.toml"):
        load_settings()
