"""Settings: one clear line per bad setting, secrets never shown."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No developer .env or exported variables leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "DISCORD_TOKEN",
        "AUDIO_API_KEY",
        "AUDIO_BASE_URL",
        "MAX_DOWNLOAD_BYTES",
        "LOG_LEVEL",
        "TRANSCRIPTION_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_missing_api_key_is_named():
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == "setting AUDIO_API_KEY: Field required"


def test_every_invalid_setting_gets_its_own_line(monkeypatch):
    monkeypatch.setenv("AUDIO_API_KEY", "k")
    monkeypatch.setenv("MAX_DOWNLOAD_BYTES", "lots")
    monkeypatch.setenv("AUDIO_BASE_URL", "not a url")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "setting AUDIO_BASE_URL",
        "setting MAX_DOWNLOAD_BYTES",
    ]
    assert "lots" not in str(caught.value)


def test_settings_come_from_a_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("AUDIO_API_KEY=from-file\nMAX_AUDIO_SECONDS=90\n")
    settings = load_settings()
    assert settings.audio_api_key.get_secret_value() == "from-file"
    assert settings.max_audio_seconds == 90


def test_secrets_stay_out_of_reprs_and_errors(monkeypatch):
    monkeypatch.setenv("AUDIO_API_KEY", "super-secret-value")
    monkeypatch.setenv("DISCORD_TOKEN", "another-secret-value")
    settings = load_settings()
    assert "super-secret-value" not in repr(settings) + str(settings)
    assert "another-secret-value" not in repr(settings) + str(settings)
    monkeypatch.setenv("MAX_DOWNLOAD_BYTES", "-5")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "secret-value" not in str(caught.value)


def run_cli(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def cli_env(**values: str) -> dict[str, str]:
    import os

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
    return keep | {"NO_PROXY": "127.0.0.1"} | values


def test_start_up_without_a_token_is_one_clear_line_and_no_traceback(tmp_path):
    done = run_cli("run", env=cli_env(AUDIO_API_KEY="k"), cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr
        == "earshot cannot start:\nsetting DISCORD_TOKEN: required to connect to Discord\n"
    )


def test_start_up_with_a_bad_setting_names_it(tmp_path):
    done = run_cli(env=cli_env(AUDIO_API_KEY="k", LOG_LEVEL="LOUD"), cwd=tmp_path)
    assert done.returncode == 2
    assert "setting LOG_LEVEL" in done.stderr
    assert "Traceback" not in done.stderr
