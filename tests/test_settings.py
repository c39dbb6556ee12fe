"""Settings: one clear line per bad setting, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No developer .env or exported variables leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "DISCORD_TOKEN",
        "AUDIO_PROVIDER",
        "AUDIO_API_KEY",
        "AUDIO_BASE_URL",
        "FALLBACK_PROVIDER",
        "FALLBACK_BASE_URL",
        "ENDPOINT_COOLDOWN_SECONDS",
        "MAX_DOWNLOAD_BYTES",
        "LOG_LEVEL",
        "TRANSCRIPTION_MODEL",
        "VOICE_QUEUE_LIMIT",
        "VOICE_MAX_CHARS",
        "VOICE_IDLE_SECONDS",
        "VOICE_ALONE_SECONDS",
        "LOCAL_PIPER_VOICE",
        "METRICS_PORT",
        "METRICS_HOST",
    ):
        monkeypatch.delenv(name, raising=False)


def test_with_no_key_and_no_provider_the_local_engine_is_chosen():
    assert load_settings().audio_provider == "local"


def test_a_key_alone_means_the_openai_compatible_service(monkeypatch):
    monkeypatch.setenv("AUDIO_API_KEY", "k")
    assert load_settings().audio_provider == "openai"


def test_an_empty_key_is_no_key(monkeypatch):
    monkeypatch.setenv("AUDIO_API_KEY", "")
    assert load_settings().audio_provider == "local"


@pytest.mark.parametrize("provider", ["openai", "gemini", "scaigrid"])
@pytest.mark.parametrize("key", [None, ""])
def test_a_hosted_provider_without_a_key_names_the_key(monkeypatch, provider, key):
    monkeypatch.setenv("AUDIO_PROVIDER", provider)
    if key is not None:
        monkeypatch.setenv("AUDIO_API_KEY", key)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"setting AUDIO_API_KEY: required with AUDIO_PROVIDER={provider}; without a key, leave "
        "AUDIO_PROVIDER unset (or set it to local) for the embedded engine"
    )


def test_the_local_engine_ignores_a_key_and_falls_back_without_one(monkeypatch):
    monkeypatch.setenv("AUDIO_PROVIDER", "local")
    assert load_settings().audio_provider == "local"
    monkeypatch.setenv("AUDIO_PROVIDER", "gemini")
    monkeypatch.setenv("AUDIO_API_KEY", "k")
    monkeypatch.setenv("FALLBACK_PROVIDER", "local")
    assert load_settings().fallback_provider == "local"
    monkeypatch.setenv("FALLBACK_PROVIDER", "openai")
    with pytest.raises(SettingsError, match="FALLBACK_PROVIDER needs FALLBACK_API_KEY"):
        load_settings()


def test_a_base_url_is_one_server_or_several_separated_by_commas(monkeypatch):
    monkeypatch.setenv("AUDIO_API_KEY", "k")
    assert load_settings().audio_base_url == ()
    monkeypatch.setenv("AUDIO_BASE_URL", "http://speech.lan:8000/")
    assert [str(url) for url in load_settings().audio_base_url] == ["http://speech.lan:8000/"]
    monkeypatch.setenv("AUDIO_BASE_URL", " http://a.lan:8000, http://b.lan:8000/oai ,")
    settings = load_settings()
    assert [str(url) for url in settings.audio_base_url] == [
        "http://a.lan:8000/",
        "http://b.lan:8000/oai",
    ]
    assert settings.endpoint_cooldown_seconds == 30
    monkeypatch.setenv("AUDIO_BASE_URL", "http://a.lan:8000,not a url")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(
        "setting AUDIO_BASE_URL: item 2: Input should be a valid URL"
    )


@pytest.mark.parametrize("prefix", ["AUDIO", "FALLBACK"])
def test_several_servers_need_the_openai_protocol(monkeypatch, prefix):
    monkeypatch.setenv("AUDIO_API_KEY", "k")
    monkeypatch.setenv("FALLBACK_API_KEY", "k")
    monkeypatch.setenv(f"{prefix}_PROVIDER", "gemini")
    monkeypatch.setenv(f"{prefix}_BASE_URL", "http://a.lan:8000,http://b.lan:8000")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"settings: {prefix}_BASE_URL lists 2 servers, which only {prefix}_PROVIDER=openai "
        "balances; give one URL"
    )


def test_calls_have_defaults_and_bounds(monkeypatch):
    settings = load_settings()
    assert (settings.voice_queue_limit, settings.voice_max_chars) == (20, 300)
    assert (settings.voice_idle_seconds, settings.voice_alone_seconds) == (900, 30)
    monkeypatch.setenv("VOICE_IDLE_SECONDS", "0")
    monkeypatch.setenv("VOICE_ALONE_SECONDS", "0")
    assert (load_settings().voice_idle_seconds, load_settings().voice_alone_seconds) == (0, 0)
    monkeypatch.setenv("VOICE_QUEUE_LIMIT", "201")
    monkeypatch.setenv("VOICE_MAX_CHARS", "19")
    monkeypatch.setenv("VOICE_IDLE_SECONDS", "86401")
    monkeypatch.setenv("VOICE_ALONE_SECONDS", "-1")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [line.split(":")[0] for line in str(caught.value).splitlines()] == [
        "setting VOICE_QUEUE_LIMIT",
        "setting VOICE_MAX_CHARS",
        "setting VOICE_IDLE_SECONDS",
        "setting VOICE_ALONE_SECONDS",
    ]


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


def test_the_piper_voice_is_a_name_a_file_or_none(monkeypatch):
    assert load_settings().local_piper_voice == "en_US-lessac-medium"
    for value, meant in [
        ("de_DE-thorsten-high", "de_DE-thorsten-high"),
        ("/voices/en_US-joe-medium.onnx", Path("/voices/en_US-joe-medium.onnx")),
        ("voices/joe.onnx", Path("voices/joe.onnx")),
        ("none", None),
        ("None", None),
        ("", None),
    ]:
        monkeypatch.setenv("LOCAL_PIPER_VOICE", value)
        assert load_settings().local_piper_voice == meant
    monkeypatch.setenv("LOCAL_PIPER_VOICE", "lessac")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "setting LOCAL_PIPER_VOICE: a Piper voice name (en_US-lessac-medium), the path of a "
        "voice's .onnx file, or none"
    )


@pytest.mark.parametrize(
    ("name", "default", "valid", "invalid", "refusal"),
    [
        (
            "METRICS_PORT",
            0,
            {"9100": 9100, " 65535 ": 65535, "0": 0, "": 0},
            ["65536", "-1", "9100/tcp", "metrics"],
            "is not a port: a number from 1 to 65535, or 0 for no health and metrics endpoints",
        ),
        (
            "METRICS_HOST",
            "127.0.0.1",
            {name: name for name in ("0.0.0.0", "::", "::1", "localhost", "metrics.internal")},
            ["", "http://0.0.0.0", "0.0.0.0:9100", "-bad.example"],
            "is not an address to listen on: an IP address (127.0.0.1 for this machine only, "
            "0.0.0.0 or :: for every interface) or a host name",
        ),
    ],
)
def test_the_metrics_endpoints_take_a_port_and_an_address(
    monkeypatch, name, default, valid, invalid, refusal
):
    field = name.lower()
    assert getattr(load_settings(), field) == default
    for value, meant in valid.items():
        monkeypatch.setenv(name, value)
        assert getattr(load_settings(), field) == meant
    for value in invalid:
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert str(caught.value) == f"setting {name}: {value!r} {refusal}"


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


def test_start_up_of_a_hosted_provider_without_a_key_names_the_key(tmp_path):
    done = run_cli("run", env=cli_env(DISCORD_TOKEN="t", AUDIO_PROVIDER="openai"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "earshot cannot start:\nsetting AUDIO_API_KEY: required with AUDIO_PROVIDER=openai;"
    )


def test_start_up_with_a_bad_setting_names_it(tmp_path):
    done = run_cli(env=cli_env(AUDIO_API_KEY="k", LOG_LEVEL="LOUD"), cwd=tmp_path)
    assert done.returncode == 2
    assert "setting LOG_LEVEL" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_budgets_default_above_its_ceiling_is_named(monkeypatch):
    monkeypatch.setenv("BUDGET_AUDIO_MINUTES_PER_DAY", "90")
    monkeypatch.setenv("BUDGET_MAX_AUDIO_MINUTES_PER_DAY", "60")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "settings: BUDGET_AUDIO_MINUTES_PER_DAY (90) is above its ceiling "
        "BUDGET_MAX_AUDIO_MINUTES_PER_DAY (60)"
    )


def test_the_state_is_in_sqlite_unless_a_postgresql_url_is_set(monkeypatch):
    assert load_settings().database_url is None
    monkeypatch.setenv("DATABASE_URL", "")
    assert load_settings().database_url is None
    monkeypatch.setenv("DATABASE_URL", "postgresql://earshot:s3cret@db:5432/earshot")
    url = load_settings().database_url
    assert url is not None and url.get_secret_value().endswith("@db:5432/earshot")
    assert "s3cret" not in repr(load_settings())
    monkeypatch.setenv("DATABASE_URL", "mysql://earshot:s3cret@db/earshot")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("setting DATABASE_URL: a PostgreSQL URL such as")
    assert "s3cret" not in str(caught.value)


def test_shards_are_a_count_and_the_ids_this_process_runs(monkeypatch):
    settings = load_settings()
    assert (settings.shard_count, settings.shard_ids, settings.runs_first_shard) == (
        None,
        (),
        True,
    )
    monkeypatch.setenv("SHARD_COUNT", "4")
    monkeypatch.setenv("DATABASE_URL", "postgresql://earshot@db/earshot")
    monkeypatch.setenv("SHARD_IDS", "2, 3")
    settings = load_settings()
    assert (settings.shard_count, settings.shard_ids, settings.runs_first_shard) == (
        4,
        (2, 3),
        False,
    )
    for wrong in ("4", "1,1", "-1", "one"):
        monkeypatch.setenv("SHARD_IDS", wrong)
        with pytest.raises(SettingsError, match=r"^(setting SHARD_IDS|settings: SHARD_IDS)"):
            load_settings()


def test_a_process_knows_whose_servers_events_it_receives(monkeypatch):
    """Discord sends a server's events to shard (server id >> 22) % count, DMs to shard 0."""
    on_shard = {shard: (1000 + shard) << 22 for shard in range(4)}  # 1000 % 4 == 0
    assert all(load_settings().runs_shard_of(server) for server in (*on_shard.values(), None))
    monkeypatch.setenv("SHARD_COUNT", "4")
    monkeypatch.setenv("DATABASE_URL", "postgresql://earshot@db/earshot")
    monkeypatch.setenv("SHARD_IDS", "0,3")
    settings = load_settings()
    assert [settings.runs_shard_of(on_shard[shard]) for shard in range(4)] == [
        True,
        False,
        False,
        True,
    ]
    assert settings.runs_shard_of(None)
    monkeypatch.setenv("SHARD_IDS", "2")
    assert not load_settings().runs_shard_of(None)


def test_a_process_running_some_shards_needs_a_shared_database(monkeypatch):
    monkeypatch.setenv("SHARD_IDS", "1")
    with pytest.raises(SettingsError, match="SHARD_IDS needs SHARD_COUNT"):
        load_settings()
    monkeypatch.setenv("SHARD_COUNT", "2")
    with pytest.raises(SettingsError, match="must share this one's state: set DATABASE_URL"):
        load_settings()
    monkeypatch.setenv("SHARD_IDS", "0,1")
    assert load_settings().runs_first_shard


def test_the_process_heartbeat_has_a_default_and_bounds(monkeypatch):
    assert load_settings().process_heartbeat_seconds == 15
    monkeypatch.setenv("PROCESS_HEARTBEAT_SECONDS", "0.01")
    with pytest.raises(SettingsError, match=r"^setting PROCESS_HEARTBEAT_SECONDS: "):
        load_settings()
