"""Health and metrics, end to end: the real bot serves `/healthz` and `/metrics` on a loopback
port (METRICS_PORT) while it works against the loopback Discord and audio API; the exposition
is read with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import discord.utils
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli import main as cli
from tests import audio_samples
from tests.e2e.voice_calls import Call
from tests.fakes.audio_api import API_KEY, Fault
from tests.harness import bot_settings, earshot_world

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    """A port nothing listens on now (the bot binds it moments later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(audio_api, tmp_path / "data", metrics_port=free_port(), max_jobs=1)


@pytest.fixture
async def endpoints(world, http) -> Endpoints:
    return Endpoints(http, f"http://127.0.0.1:{world.bot.settings.metrics_port}")


class Endpoints:
    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self._http = http
        self._base = base

    async def health(self) -> httpx.Response:
        return await self._http.get(f"{self._base}/healthz")

    async def metrics(self) -> Samples:
        answer = await self._http.get(f"{self._base}/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=")
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly `labels`; a labelled series never touched is 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_healthz_is_ok_with_the_bot_connected(world, endpoints):
    answer = await endpoints.health()

    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "failing": [],
        "checks": {
            "gateway": {"passed": True, "detail": "connected (shards [0])"},
            "database": {"passed": True, "detail": "answered"},
            "provider": {"passed": True, "detail": "not called yet"},
        },
    }


async def test_healthz_names_the_database_when_the_store_cannot_answer(world, endpoints):
    await world.bot.store.close()

    answer = await endpoints.health()

    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "failing"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == {
        "passed": False,
        "detail": "ValueError: no active connection",
    }


@pytest.mark.log_errors("Attempting a reconnect")
async def test_healthz_names_the_gateway_while_discord_is_out(world, endpoints):
    dropped = asyncio.ensure_future(world.bot.wait_for("disconnect", timeout=10))
    async with world.discord.gateway_down():
        await dropped
        answer = await endpoints.health()
        # After an outage discord.py's sharded client identifies anew (it resumes after a
        # plain disconnect): the shard is back once it is ready again.
        back = asyncio.ensure_future(world.bot.wait_for("shard_ready", timeout=10))
    await back

    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["gateway"]
    assert body["checks"]["gateway"] == {
        "passed": False,
        "detail": "disconnected: reconnecting (shard 0)",
    }
    assert (await endpoints.health()).status_code == 200


async def test_metrics_count_the_jobs_the_provider_call_and_a_cache_hit(world, endpoints):
    before = await endpoints.metrics()
    world.audio_api.hold = asyncio.Event()
    world.audio_api.transcripts.append("Said once, read twice.")
    audio = audio_samples.encode(2.0, "ogg")
    first = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment(data=audio)}
    )
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    second = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment(data=audio)}
    )
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{second}/messages/@original")

    busy = await endpoints.metrics()
    world.audio_api.hold.set()
    [answer] = await world.followups(first)
    *_, again = await world.discord.wait_for(
        "PATCH", rf"/webhooks/\d+/{second}/messages/@original", count=2
    )
    after = await endpoints.metrics()

    assert value(before, "earshot_jobs_running") == value(before, "earshot_jobs_queued") == 0
    assert value(busy, "earshot_jobs_running") == 1  # MAX_JOBS=1: the first holds the place
    assert value(busy, "earshot_jobs_queued") == 1
    assert value(after, "earshot_jobs_running") == value(after, "earshot_jobs_queued") == 0
    assert answer.json["content"].endswith(">>> Said once, read twice.")
    assert again.json["content"].endswith(">>> Said once, read twice.")
    assert len(world.audio_api.uploads) == 1
    call = {"route": "transcription", "outcome": "ok"}
    assert value(after, "earshot_provider_call_seconds_count", **call) == 1
    assert value(after, "earshot_provider_call_seconds_sum", **call) > 0
    assert value(after, "earshot_provider_call_seconds_bucket", le="+Inf", **call) == 1
    assert value(after, "earshot_transcript_cache_lookups_total", result="miss") == 1
    assert value(after, "earshot_transcript_cache_lookups_total", result="hit") == 1
    assert value(after, "earshot_budget_charged_total", resource="audio") == pytest.approx(2 / 60)
    assert value(after, "earshot_errors_total", kind="ProviderUnavailable") == 0


async def test_a_provider_outage_is_counted_by_kind_and_fails_the_provider_check(world, endpoints):
    world.audio_api.faults.extend([Fault.http(503, "down", **{"retry-after-ms": "10"})] * 3)
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)

    samples = await endpoints.metrics()
    health = await endpoints.health()

    assert reply.json["content"] == (
        "⚠️ The audio service is unavailable right now. Please try again later."
    )
    assert value(samples, "earshot_errors_total", kind="ProviderUnavailable") == 1
    failed = {"route": "transcription", "outcome": "error"}
    assert value(samples, "earshot_provider_call_seconds_count", **failed) == 1
    charged = value(samples, "earshot_budget_charged_total", resource="audio")
    assert charged == pytest.approx(2 / 60)
    assert value(samples, "earshot_budget_refunded_total", resource="audio") == charged
    assert health.status_code == 503
    body = health.json()
    assert body["failing"] == ["provider"]
    assert re.fullmatch(
        r"ProviderUnavailable \d+ s ago: HTTP 503 from /v1/audio/transcriptions: down",
        body["checks"]["provider"]["detail"],
    )

    world.audio_api.transcripts.append("Back again.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert reply.json["content"].endswith(">>> Back again.")
    assert (await endpoints.health()).status_code == 200


async def test_metrics_count_the_voice_calls_earshot_is_in(world, endpoints):
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    outside = await endpoints.metrics()

    await call.join()

    assert value(outside, "earshot_voice_connections") == 0
    assert value(await endpoints.metrics(), "earshot_voice_connections") == 1


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


async def test_a_metrics_port_in_use_stops_start_up_with_one_clear_line(
    discord_fake, audio_api, tmp_path, monkeypatch, capsys, taken_port
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", discord_fake.token)
    monkeypatch.setenv("AUDIO_API_KEY", API_KEY)
    monkeypatch.setenv("AUDIO_BASE_URL", audio_api.base_url)
    monkeypatch.setenv("METRICS_PORT", str(taken_port))
    monkeypatch.setattr(discord.utils, "setup_logging", lambda **_: None)

    code = await asyncio.to_thread(cli.main, ["run"])

    assert code == 2
    assert capsys.readouterr().err == (
        f"earshot cannot start:\nsetting METRICS_PORT: 127.0.0.1:{taken_port} is already in use "
        "by another program; choose a free port, or 0 for no health and metrics endpoints\n"
    )
    assert [payload for payload in discord_fake.gateway_received if payload["op"] == 2] == []


async def test_without_a_metrics_port_nothing_listens(discord_fake, audio_api, tmp_path):
    settings = bot_settings(audio_api, tmp_path / "data")
    async with earshot_world(discord_fake, audio_api, settings) as world:
        assert world.bot.monitoring is None
