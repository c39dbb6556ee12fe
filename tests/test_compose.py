"""compose.yaml, the cluster example the README documents: its bots' environments are earshot
settings that validate, its shard processes split every shard and share one database, and its
speech server is earshot's own, where the bots send their audio."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bot.settings import Settings

COMPOSE = Path(__file__).parent.parent / "compose.yaml"
BOTS = ("earshot-0", "earshot-1")
_REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?[^}]*\}")


def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def environment(service: str) -> dict[str, str]:
    """The service's environment, compose's required variables given placeholder values."""
    return {
        name: _REQUIRED_VARIABLE.sub(lambda match: f"placeholder-{match[1].lower()}", str(value))
        for name, value in services()[service]["environment"].items()
    }


def test_each_bots_environment_is_earshot_settings_that_validate():
    for bot in BOTS:
        values = {name.lower(): value for name, value in environment(bot).items()}
        assert set(values) <= set(Settings.model_fields), bot
        settings = Settings(_env_file=None, discord_token="placeholder", **values)
        assert settings.database_url is not None and settings.metrics_port == 9100


def test_the_shard_processes_split_every_shard_and_share_one_database():
    settings = [
        Settings(_env_file=None, **{k.lower(): v for k, v in environment(bot).items()})
        for bot in BOTS
    ]
    [count] = {each.shard_count for each in settings}
    assert sorted(shard for each in settings for shard in each.shard_ids) == list(range(count))
    assert [each.runs_first_shard for each in settings] == [True, False]
    [url] = {each.database_url.get_secret_value() for each in settings}
    assert urlsplit(url).hostname in services()
    host_ports = [port for bot in BOTS for port in services()[bot]["ports"]]
    assert len(set(host_ports)) == len(host_ports)


def test_the_bots_send_their_audio_to_earshots_own_speech_server():
    speech = services()["speech"]
    assert speech["command"][:4] == ["python", "-m", "bot", "serve"]
    port = speech["command"][speech["command"].index("--port") + 1]
    for bot in BOTS:
        [base_url] = environment(bot)["AUDIO_BASE_URL"].split(",")
        assert urlsplit(base_url).hostname == "speech" and str(urlsplit(base_url).port) == port
        assert environment(bot)["AUDIO_API_KEY"] == environment("speech")["SERVE_API_KEY"]
