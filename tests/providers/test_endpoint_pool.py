"""Several OpenAI-compatible servers behind one provider (`EndpointPool`), over real loopback
HTTP: calls spread by calls in flight, a server that is down is skipped and tried again after
its cool-down (a clock the test moves, no sleeping), a rate limit or a refused request leaves a
server in, a retry moves to another server, and all servers down is one clear error."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from bot.errors import ProviderRateLimited, ProviderRejectedInput, ProviderUnavailable
from bot.model import TranscriptionOptions
from bot.providers.endpoint_pool import EndpointPool
from bot.providers.factory import build_provider
from bot.providers.interface import AudioUpload
from bot.providers.retry import RetryPolicy
from bot.settings import Settings
from tests import audio_samples
from tests.conftest import make_provider
from tests.fakes.audio_api import API_KEY, FakeAudioAPI, Fault

COOLDOWN = 30.0
ONE_TRY = RetryPolicy(max_attempts=1)


class Clock:
    """Monotonic time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def servers() -> AsyncIterator[list[FakeAudioAPI]]:
    fakes = [FakeAudioAPI() for _ in range(3)]
    for fake in fakes:
        await fake.start()
    yield fakes
    for fake in fakes:
        await fake.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sample(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "memo.ogg", audio_samples.encode(1.0, "ogg"))
    return AudioUpload(path, "memo.ogg", "audio/ogg")


def pool_of(urls: list[str], clock: Clock) -> EndpointPool:
    return EndpointPool(urls, cooldown=COOLDOWN, clock=clock)


async def until(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds: it counts requests across several stand-ins, which no
    one event covers."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_concurrent_calls_spread_by_calls_in_flight(http, servers, clock, sample):
    release = asyncio.Event()
    for fake in servers:
        fake.hold = release
    provider = make_provider(http, pool_of([fake.base_url for fake in servers], clock))
    calls = [
        asyncio.create_task(provider.transcribe(sample, TranscriptionOptions())) for _ in range(6)
    ]
    await until(lambda: sum(fake.in_flight for fake in servers) == 6)
    assert [fake.in_flight for fake in servers] == [2, 2, 2]
    release.set()
    transcripts = await asyncio.gather(*calls)
    assert all(transcript.text == "I heard 1.0 seconds of audio." for transcript in transcripts)


async def test_calls_one_after_another_take_turns(http, servers, clock, sample):
    provider = make_provider(http, pool_of([fake.base_url for fake in servers], clock))
    for _ in range(6):
        await provider.transcribe(sample, TranscriptionOptions())
    assert [len(fake.uploads) for fake in servers] == [2, 2, 2]


async def test_a_server_that_is_down_is_skipped_and_the_call_succeeds(http, servers, clock, sample):
    live = servers[0]
    pool = pool_of([closed_port_url(), live.base_url], clock)
    transcript = await make_provider(http, pool).transcribe(sample, TranscriptionOptions())
    assert transcript.text == "I heard 1.0 seconds of audio."
    # Left out now: single tries, which would fail on the dead server, all reach the live one.
    single = make_provider(http, pool, retry=ONE_TRY)
    for _ in range(3):
        await single.transcribe(sample, TranscriptionOptions())
    assert len(live.uploads) == 4


async def test_a_server_left_out_is_tried_again_after_its_cooldown(http, servers, clock, sample):
    flaky, steady = servers[:2]
    flaky.faults.append(Fault.http(503))
    pool = pool_of([flaky.base_url, steady.base_url], clock)
    provider = make_provider(http, pool)
    await provider.transcribe(sample, TranscriptionOptions())  # 503 on flaky, then steady
    assert (len(flaky.uploads), len(steady.uploads)) == (1, 1)

    single = make_provider(http, pool, retry=ONE_TRY)
    clock.now += COOLDOWN - 1
    for _ in range(3):
        await single.transcribe(sample, TranscriptionOptions())
    assert (len(flaky.uploads), len(steady.uploads)) == (1, 4)

    clock.now += 1
    for _ in range(2):
        await single.transcribe(sample, TranscriptionOptions())
    assert (len(flaky.uploads), len(steady.uploads)) == (2, 5)


async def test_with_every_server_out_the_one_out_longest_is_tried(http, servers, clock, sample):
    first, second = servers[:2]
    pool = pool_of([first.base_url, second.base_url], clock)
    single = make_provider(http, pool, retry=ONE_TRY)
    first.faults.append(Fault.http(502))
    with pytest.raises(ProviderUnavailable):
        await single.transcribe(sample, TranscriptionOptions())
    clock.now += 5
    second.faults.append(Fault.http(500))
    with pytest.raises(ProviderUnavailable, match="all 2 audio servers are down"):
        await single.transcribe(sample, TranscriptionOptions())

    transcript = await single.transcribe(sample, TranscriptionOptions())
    assert transcript.text == "I heard 1.0 seconds of audio."
    assert (len(first.uploads), len(second.uploads)) == (2, 1)


async def test_every_server_down_is_one_clear_error(http, clock, sample):
    dead = [closed_port_url(), closed_port_url()]
    provider = make_provider(http, pool_of(dead, clock))
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.transcribe(sample, TranscriptionOptions())
    message = str(caught.value)
    assert message.startswith(f"all 2 audio servers are down ({dead[0]}, {dead[1]}); the last, ")
    assert "ConnectError" in message
    assert caught.value.user_message == (
        "The audio service is unavailable right now. Please try again later."
    )


async def test_a_rate_limit_moves_the_retry_but_leaves_the_server_in(http, servers, clock, sample):
    busy, other = servers[:2]
    busy.faults.append(Fault.http(429, "slow down", **{"retry-after-ms": "10"}))
    pool = pool_of([busy.base_url, other.base_url], clock)
    await make_provider(http, pool).transcribe(sample, TranscriptionOptions())
    assert (len(busy.uploads), len(other.uploads)) == (1, 1)
    assert [endpoint.out_since for endpoint in pool.endpoints] == [None, None]

    busy.faults.append(Fault.http(429, "slow down"))
    single = make_provider(http, pool, retry=ONE_TRY)
    with pytest.raises(ProviderRateLimited):
        await single.transcribe(sample, TranscriptionOptions())
    await single.transcribe(sample, TranscriptionOptions())
    assert (len(busy.uploads), len(other.uploads)) == (2, 2)


async def test_a_refused_request_leaves_the_server_in(http, servers, clock, sample):
    refusing, other = servers[:2]
    refusing.faults.append(Fault.http(400, "bad audio"))
    pool = pool_of([refusing.base_url, other.base_url], clock)
    with pytest.raises(ProviderRejectedInput, match="bad audio"):
        await make_provider(http, pool).transcribe(sample, TranscriptionOptions())
    assert [endpoint.out_since for endpoint in pool.endpoints] == [None, None]
    assert (len(refusing.uploads), len(other.uploads)) == (1, 0)


async def test_settings_with_several_servers_build_a_balanced_provider(http, servers, sample):
    settings = Settings(
        _env_file=None,
        audio_provider="openai",
        audio_api_key=API_KEY,
        audio_base_url=f"{closed_port_url()}, {servers[0].base_url}",
        provider_max_attempts=2,
    )
    provider = await build_provider(settings, http)
    transcript = await provider.transcribe(sample, TranscriptionOptions())
    assert transcript.text == "I heard 1.0 seconds of audio."
