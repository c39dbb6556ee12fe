"""Every configuration the README documents starts the real bot and answers `/transcribe`.

One test runs over a table of configurations (README "Settings" and "Audio services"): each
provider and model surface, each hosted provider with a hosted fallback, the local engine as
the provider and as the fallback, and the documented limits. The real EarshotBot talks to the
loopback Discord and to all three loopback audio APIs at once (OpenAI-compatible, Gemini-native,
ScaiGrid's native with its `/oai` twin); each API answers with its own sentence, so a reply
shows which service answered. Where a fallback is configured and the primary is down (5xx on
every attempt), the secondary's sentence must arrive, and asking again once the primary is back
must reach the primary: a stand-in's transcript is not cached as the primary's.

The local engine runs the test-only Whisper tiny.en on speech eSpeak NG makes, so every
configuration gets the same spoken sentence; local appears twice (as the provider and as the
fallback), since it is the slow one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from bot.audio.encode import OGG_OPUS, encode
from bot.audio.pcm import write_wav
from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import API_KEY, FakeAudioAPI, Fault
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.scaigrid_api import FakeScaiGridAPI
from tests.harness import EarshotWorld, bot_settings, earshot_world
from tests.local_models import TINY_EN

SPOKEN = "Do not forget your keys and your phone."
HEARD_BY = {
    "openai": "The OpenAI-compatible service heard this.",
    "gemini": "The Gemini service heard this.",
    "scaigrid": "The ScaiGrid service heard this.",
}
"""What each hosted stand-in answers; the local engine answers with what it hears of SPOKEN."""
LOCAL_WORDS = {"forget", "keys", "phone"}
ANSWER_TIMEOUT = 60
"""Seconds to wait for an answer: generous, as the local engine loads its model first."""
ATTEMPTS = 2
"""PROVIDER_MAX_ATTEMPTS here: one retry, so a primary that is down falls back quickly."""
LOCAL = {"local_whisper_model": str(TINY_EN), "local_inference_slots": 1}


@dataclass
class Services:
    """The three loopback audio APIs, by provider name."""

    openai: FakeAudioAPI
    gemini: FakeGeminiAPI
    scaigrid: FakeScaiGridAPI

    def __getitem__(self, name: str) -> FakeAudioAPI | FakeGeminiAPI:
        return getattr(self, name)

    def base_url(self, name: str) -> str:
        return self[name].base_url

    def asked(self) -> set[str]:
        """The services that have received a request."""
        return {
            name
            for name in HEARD_BY
            if getattr(self[name], "requests", None) or getattr(self[name], "uploads", None)
        }


@pytest.fixture
async def services(audio_api):
    gemini, scaigrid = FakeGeminiAPI(), FakeScaiGridAPI()
    await gemini.start()
    await scaigrid.start()
    yield Services(audio_api, gemini, scaigrid)
    await gemini.close()
    await scaigrid.close()


@pytest.fixture
def spoken(espeak, tmp_path) -> tuple[bytes, float]:
    """SPOKEN read by eSpeak NG as a voice message: Ogg/Opus bytes and seconds."""
    wav, ogg = tmp_path / "speech.wav", tmp_path / "speech.ogg"
    write_wav(espeak.synthesize(SPOKEN, "English (America)", 1.0), wav)
    encoded = encode([wav], ogg, OGG_OPUS)
    return ogg.read_bytes(), encoded.duration


Check = Callable[[EarshotWorld, Services, dp.Payload], Awaitable[None]]
"""What else a configuration promises, given the world, the services and the attachment
transcribed first."""


@dataclass(frozen=True)
class Configuration:
    """One documented configuration: `settings` given the services, which service answers
    `/transcribe` (`answers`), which is down (`down`: every attempt fails with a 5xx), and
    what else the configuration promises (`check`, run after the first answer)."""

    settings: Callable[[Services], dict]
    answers: str
    down: str | None = None
    shows: str = ""
    """Text the answer must also show (speaker labels, say)."""
    check: Check | None = None
    overrides: dict = field(default_factory=dict)


def hosted(name: str, **models) -> Callable[[Services], dict]:
    """AUDIO_PROVIDER=`name` at its stand-in, with `models`."""
    return lambda services: (
        {
            "audio_provider": name,
            "audio_base_url": services.base_url(name),
            "audio_api_key": API_KEY,
        }
        | models
    )


def with_fallback(primary: Callable[[Services], dict], name: str) -> Callable[[Services], dict]:
    """`primary`, falling back on `name` (at its stand-in, or the local engine)."""

    def settings(services: Services) -> dict:
        if name == "local":
            return primary(services) | {"fallback_provider": "local"} | LOCAL
        return primary(services) | {
            "fallback_provider": name,
            "fallback_base_url": services.base_url(name),
            "fallback_api_key": API_KEY,
        }

    return settings


def key_only(services: Services) -> dict:
    """AUDIO_PROVIDER unset with AUDIO_API_KEY set: the OpenAI-compatible protocol."""
    return {"audio_base_url": services.base_url("openai"), "audio_api_key": API_KEY}


def no_key(services: Services) -> dict:
    """AUDIO_PROVIDER unset without AUDIO_API_KEY: the local engine."""
    return {"audio_api_key": None} | LOCAL


def scaigrid_twin(services: Services) -> dict:
    """ScaiGrid's OpenAI-compatible twin, as the README says: openai at `…/oai`."""
    return {
        "audio_provider": "openai",
        "audio_base_url": services.base_url("scaigrid") + "/oai",
        "audio_api_key": API_KEY,
    }


# What some configurations promise beyond a transcript ----------------------------------------


UNAVAILABLE = "⚠️ Translation isn't available with the audio service this bot is set up with."


async def translation_is_refused_before_downloading(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    token = await world.slash("translate", attachments={"file": world.voice_attachment()})
    assert await answer_to(world, token) == UNAVAILABLE


async def translation_goes_through_the_oai_twin(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    token = await world.slash("translate", attachments={"file": world.voice_attachment()})
    answer = await answer_to(world, token)
    assert answer.startswith("🌐 **Translation** of alice's voice message")
    assert services.scaigrid.uploads[-1].path == "/oai/v1/audio/translations"


async def the_cache_is_off(world: EarshotWorld, services: Services, first: dp.Payload) -> None:
    again = await world.slash("transcribe", attachments={"file": first})
    assert HEARD_BY["openai"] in await answer_to(world, again)
    assert len(services.openai.uploads) == 2, "the same audio is transcribed again"


async def a_second_command_waits_for_the_cooldown(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    callback = (await world.callback(token)).json
    assert callback["data"]["content"] == "⚠️ You're going a bit fast — try again in 30 s."
    assert len(services.openai.uploads) == 1


async def one_job_and_one_call_at_a_time(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    services.openai.hold = asyncio.Event()
    services.openai.upload_received.clear()
    first = await world.slash("transcribe", attachments={"file": world.voice_attachment(1.0)})
    await asyncio.wait_for(services.openai.upload_received.wait(), ANSWER_TIMEOUT)
    second = await world.slash("transcribe", attachments={"file": world.voice_attachment(1.5)})
    [notice] = await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{second}/messages/@original")
    assert notice.json["content"] == "⏳ earshot is busy: you're number 1 in the queue."
    services.openai.hold.set()
    assert HEARD_BY["openai"] in await answer_to(world, first)
    assert HEARD_BY["openai"] in await answer_to(world, second)
    assert services.openai.most_in_flight == 1


async def a_long_recording_is_cut_into_chunks(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    long = world.voice_attachment(45.0, data=audio_samples.encode(45.0))
    token = await world.slash("transcribe", attachments={"file": long})
    answer = await answer_to(world, token)
    assert answer.endswith(f"{HEARD_BY['openai']} {HEARD_BY['openai']}")
    assert len(services.openai.uploads) == 1 + 2


async def a_larger_file_is_refused_before_downloading(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    large = world.file_attachment("talk.wav", audio_samples.encode(5.0, "wav"), "audio/wav")
    token = await world.slash("transcribe", attachments={"file": large})
    assert await answer_to(world, token) == "⚠️ That file is too large: the limit is 0.1 MB."
    assert world.discord.find("GET", rf"/attachments/.+/{large['id']}/talk.wav") == []
    assert len(services.openai.uploads) == 1


async def a_longer_recording_is_refused(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment(8.0)})
    assert await answer_to(world, token) == "⚠️ That recording is 0:08 long; the limit is 0:05."
    assert len(services.openai.uploads) == 1


async def the_transcript_was_streamed(
    world: EarshotWorld, services: Services, first: dp.Payload
) -> None:
    [upload] = services.openai.uploads
    assert upload.fields["stream"] == "true"


async def the_twin_was_asked(world: EarshotWorld, services: Services, first: dp.Payload) -> None:
    [upload] = services.scaigrid.uploads
    assert upload.path == "/oai/v1/audio/transcriptions"


CONFIGURATIONS = {
    # Each provider and model surface.
    "openai-by-default": Configuration(key_only, answers="openai"),
    "openai-stream": Configuration(
        hosted("openai", transcription_model="gpt-4o-transcribe"),
        answers="openai",
        check=the_transcript_was_streamed,
    ),
    "openai-diarize": Configuration(
        hosted("openai", transcription_model="gpt-4o-transcribe-diarize"),
        answers="openai",
        shows=f"**A:** {HEARD_BY['openai']}",
    ),
    "openai-at-scaigrid-oai": Configuration(
        scaigrid_twin, answers="scaigrid", check=the_twin_was_asked
    ),
    "gemini": Configuration(hosted("gemini"), answers="gemini"),
    "scaigrid": Configuration(
        hosted("scaigrid"), answers="scaigrid", check=translation_is_refused_before_downloading
    ),
    "scaigrid-oai-translation": Configuration(
        hosted("scaigrid", scaigrid_oai_translation=True),
        answers="scaigrid",
        check=translation_goes_through_the_oai_twin,
    ),
    "local-by-default": Configuration(no_key, answers="local"),
    # A hosted provider falling back on another, or on the local engine.
    "openai-else-gemini": Configuration(with_fallback(hosted("openai"), "gemini"), "openai"),
    "openai-stream-down-else-gemini": Configuration(
        with_fallback(hosted("openai", transcription_model="gpt-4o-transcribe"), "gemini"),
        answers="gemini",
        down="openai",
    ),
    "gemini-down-else-scaigrid": Configuration(
        with_fallback(hosted("gemini"), "scaigrid"), answers="scaigrid", down="gemini"
    ),
    "scaigrid-down-else-openai": Configuration(
        with_fallback(hosted("scaigrid"), "openai"), answers="openai", down="scaigrid"
    ),
    "openai-down-else-local": Configuration(
        with_fallback(hosted("openai"), "local"), answers="local", down="openai"
    ),
    # The documented limits.
    "cache-off": Configuration(
        hosted("openai"),
        answers="openai",
        check=the_cache_is_off,
        overrides={"transcript_cache_ttl_seconds": 0},
    ),
    "cooldown": Configuration(
        hosted("openai"),
        answers="openai",
        check=a_second_command_waits_for_the_cooldown,
        overrides={"command_cooldown_seconds": 30},
    ),
    "one-job-one-call": Configuration(
        hosted("openai"),
        answers="openai",
        check=one_job_and_one_call_at_a_time,
        overrides={"max_jobs": 1, "max_concurrent_provider_calls": 1},
    ),
    "chunked": Configuration(
        hosted("openai"),
        answers="openai",
        check=a_long_recording_is_cut_into_chunks,
        overrides={"chunk_seconds": 30, "chunk_parallelism": 2},
    ),
    "max-download": Configuration(
        hosted("openai"),
        answers="openai",
        check=a_larger_file_is_refused_before_downloading,
        overrides={"max_download_bytes": 100_000},
    ),
    "max-audio": Configuration(
        hosted("openai"),
        answers="openai",
        check=a_longer_recording_is_refused,
        overrides={"max_audio_seconds": 5},
    ),
}


async def answer_to(world: EarshotWorld, token: str) -> str:
    """The reply's final content: a followup, or the edit that replaced the preview."""
    app = world.discord.application_id
    edits = rf"/webhooks/{app}/{token}/messages/@original"

    def final(request) -> bool:
        """Not a preview: those show "…" in their first line, or a place in the queue."""
        content = (request.json or {}).get("content") or ""
        return "…" not in content.split("\n")[0] and not content.startswith("⏳")

    waiters = [
        asyncio.ensure_future(
            world.discord.wait_for(method, path, where=final, timeout=ANSWER_TIMEOUT)
        )
        for method, path in (("POST", rf"/webhooks/{app}/{token}"), ("PATCH", edits))
    ]
    try:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    [answer, *_] = next(iter(done)).result()
    return answer.json["content"]


def heard(answer: str, service: str) -> bool:
    """Whether `answer` is a transcript by `service`."""
    if not answer.startswith("🎙️ **Transcript** of alice's voice message"):
        return False
    if service == "local":
        return set(re.findall(r"[a-z]+", answer.lower())) >= LOCAL_WORDS
    return HEARD_BY[service] in answer


@pytest.mark.parametrize("name", CONFIGURATIONS)
async def test_each_documented_configuration_starts_and_transcribes(
    name, discord_fake, services, spoken, tmp_path
):
    configuration = CONFIGURATIONS[name]
    values = configuration.settings(services) | configuration.overrides
    settings = bot_settings(
        services.openai, tmp_path / "data", provider_max_attempts=ATTEMPTS, **values
    )
    for service, sentence in HEARD_BY.items():
        services[service].transcripts.extend([sentence] * 6)
    if configuration.down:
        services[configuration.down].faults.extend([Fault.http(503, "down")] * ATTEMPTS)

    async with earshot_world(discord_fake, services.openai, settings) as world:
        attachment = world.voice_attachment(spoken[1], data=spoken[0])
        token = await world.slash("transcribe", attachments={"file": attachment})
        answer = await answer_to(world, token)
        assert heard(answer, configuration.answers), answer
        assert configuration.shows in answer
        assert services.asked() == {configuration.answers, configuration.down} & set(HEARD_BY)

        if configuration.down:
            primary = values["audio_provider"]
            again = await world.slash("transcribe", attachments={"file": attachment})
            answer = await answer_to(world, again)
            assert heard(answer, primary), f"a stand-in's answer was kept: {answer}"
        if configuration.check:
            await configuration.check(world, services, attachment)
