"""Hostile and broken media (tests/bad_media.py): each file ends in exactly one clear answer,
through the pipeline and through the real bot, and no file can hold an audio worker for long.

Time bounds here are hang guards, generous on purpose: they catch a decoder left running for
minutes, not a slow machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.audio import decode_budget
from bot.audio import probe as probe_module
from bot.audio.decode_budget import DecodeBudget
from bot.audio.encode import OGG_OPUS, encode
from bot.audio.probe import probe
from bot.errors import (
    AudioTooCostly,
    AudioTooLong,
    CorruptAudio,
    EarshotError,
    EmptyAudio,
    NotAudio,
)
from bot.model import AudioSource, TranscriptionOptions
from bot.transcription.pipeline import Limits, Pipeline
from tests import audio_samples, bad_media
from tests.fakes import discord_payloads as dp
from tests.harness import bot_settings, earshot_world

HANG_GUARD = 60.0
"""Seconds any one file may take end to end before the test calls it a hang."""
LIMIT = 60.0
"""The recording limit these tests run with (the `pipeline` fixture's, too)."""
THREE_HOURS = 3 * 60 * 60
OPTIONS = TranscriptionOptions()

EMPTY = "That file is empty."
NOT_AUDIO = "That file is not audio I can read."
DAMAGED = "That audio file is damaged or incomplete"
OVER_THE_LIMIT = "That recording is longer than the limit of 1:00."

CORPUS: dict[str, tuple[Callable[[], bytes], type[EarshotError], str]] = {
    "zero-length file": (lambda: b"", EmptyAudio, EMPTY),
    "Ogg/Opus headers, no audio": (bad_media.ogg_without_audio_packets, CorruptAudio, DAMAGED),
    "WAV with an empty data chunk": (bad_media.wav_without_samples, EmptyAudio, EMPTY),
    "video only": (bad_media.video_only, NotAudio, NOT_AUDIO),
    "says 10 hours, holds 1 s": (
        lambda: bad_media.with_last_granule(audio_samples.encode(1.0), 10 * 3600 * 48_000),
        AudioTooLong,
        "That recording is 10:00:00 long; the limit is 1:00.",
    ),
    "says 1 s, holds 3 hours of silence": (
        lambda: bad_media.silence_bomb(THREE_HOURS, declared_seconds=1),
        AudioTooLong,
        OVER_THE_LIMIT,
    ),
    "3 hours of silence in 270 KB": (
        lambda: bad_media.silence_bomb(THREE_HOURS),
        AudioTooLong,
        "That recording is 3:00:00 long; the limit is 1:00.",
    ),
    "ID3 tag claiming 200 MB": (
        lambda: bad_media.mp3_with_id3_tag(1000, declared_bytes=200_000_000),
        NotAudio,
        NOT_AUDIO,
    ),
    "OpusHead with no channels": (bad_media.ogg_with_corrupt_opus_head, CorruptAudio, DAMAGED),
    "WAV with no channels": (bad_media.wav_with_zero_channels, CorruptAudio, DAMAGED),
    "Ogg cut in its header": (
        lambda: bad_media.cut_inside_the_header("ogg"),
        CorruptAudio,
        DAMAGED,
    ),
    "WAV cut in its header": (lambda: bad_media.cut_inside_the_header("wav"), NotAudio, NOT_AUDIO),
    "M4A cut before its index": (
        lambda: audio_samples.truncated(audio_samples.encode(3.0, "m4a")),
        NotAudio,
        NOT_AUDIO,
    ),
    "FLAC cut short": (
        lambda: audio_samples.truncated(audio_samples.encode(3.0, "flac")),
        CorruptAudio,
        DAMAGED,
    ),
    "a playlist naming itself": (
        lambda: b"ffconcat version 1.0\n" + b"file download\n" * 4,
        NotAudio,
        NOT_AUDIO,
    ),
    **{
        f"random bytes after {name} magic": (
            lambda magic=magic: bad_media.random_after_magic(magic),
            NotAudio,
            NOT_AUDIO,
        )
        for name, magic in {
            "Ogg": b"OggS",
            "WAV": b"RIFF\x00\x00\x01\x00WAVEfmt ",
            "ID3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
            "FLAC": b"fLaC",
            "MP4": b"\x00\x00\x00\x20ftypisom",
            "Matroska": b"\x1a\x45\xdf\xa3",
        }.items()
    },
}
"""name: (make the file, the error it must end in, how the member's reply begins)."""

SOUND_ODDITIES: dict[str, tuple[Callable[[], bytes], float]] = {
    "50 audio streams": (bad_media.many_audio_streams, 1.0),
    "MP3 after a 1 MB ID3 tag": (lambda: bad_media.mp3_with_id3_tag(1_000_000), 1.0),
    "WAV whose header claims 4 GB": (bad_media.wav_claiming_4_gb, 1.0),
}
"""Odd but sound files: name: (make the file, its duration). They are transcribed."""


# Through the pipeline ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CORPUS))
async def test_each_bad_file_ends_in_one_clear_refusal(
    pipeline, audio_api, file_host, private_tmp, name
):
    make, error, reply = CORPUS[name]
    source = AudioSource(file_host.add("download", make()), "download")
    with pytest.raises(EarshotError) as caught:
        await asyncio.wait_for(pipeline.transcribe(source, OPTIONS), HANG_GUARD)
    assert type(caught.value) is error
    assert caught.value.user_message.startswith(reply)
    assert audio_api.uploads == []
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("name", list(SOUND_ODDITIES))
async def test_odd_but_sound_files_are_transcribed(pipeline, audio_api, file_host, name):
    make, seconds = SOUND_ODDITIES[name]
    source = AudioSource(file_host.add("odd", make()), "odd")
    result = await asyncio.wait_for(pipeline.transcribe(source, OPTIONS), HANG_GUARD)
    assert result.duration == pytest.approx(seconds, abs=0.05)
    assert len(audio_api.uploads) == 1


async def test_a_silence_bomb_hiding_its_length_is_stopped_at_the_limit(
    http, provider, audio_api, file_host
):
    """Defect 4: the probe decoded all of a file before the duration limit was checked, so a
    few hundred kilobytes of Opus silence held an audio worker for as long as it took to
    decode hours of it. Decoding must stop as soon as the limit is passed."""
    pipeline = Pipeline(http, provider, Limits(max_download_bytes=10**6, max_audio_seconds=LIMIT))
    bomb = bad_media.silence_bomb(THREE_HOURS, declared_seconds=1)
    source = AudioSource(file_host.add("bomb.ogg", bomb), "bomb.ogg")
    with pytest.raises(AudioTooLong) as caught:
        await asyncio.wait_for(pipeline.transcribe(source, OPTIONS), HANG_GUARD)
    assert LIMIT < caught.value.duration < LIMIT + 1
    assert caught.value.user_message == OVER_THE_LIMIT
    assert audio_api.uploads == []


async def test_a_playlist_is_not_followed_to_the_file_it_names(pipeline, audio_api, tmp_path):
    """A file must not make earshot read another one: FFmpeg's playlist readers are off."""
    audio_samples.write(tmp_path, "real.ogg", audio_samples.encode(1.0))
    playlist = audio_samples.write(tmp_path, "list", b"ffconcat version 1.0\nfile real.ogg\n")
    with pytest.raises(NotAudio):
        await pipeline.transcribe(playlist, OPTIONS)
    assert audio_api.uploads == []


# The probe and the decode budget -------------------------------------------------------------


def test_a_declared_duration_that_cannot_pass_is_refused_without_decoding(tmp_path, monkeypatch):
    def no_decoding(*args):
        raise AssertionError("decoded a file its header already ruled out")

    monkeypatch.setattr(probe_module, "budgeted_frames", no_decoding)
    bomb = audio_samples.write(tmp_path, "bomb.ogg", bad_media.silence_bomb(THREE_HOURS))
    with pytest.raises(AudioTooLong) as caught:
        probe(bomb, max_seconds=LIMIT)
    assert caught.value.duration == pytest.approx(THREE_HOURS, abs=1)


def test_a_declared_duration_within_reach_of_the_limit_is_decoded(tmp_path):
    """Only a header that could not pass either way is trusted: 70 s declared against a 60 s
    limit might still hold under 60 s (the probe tolerates a 25% shortfall) so it is decoded,
    and the truth (here: 70 s) decides."""
    clip = audio_samples.write(tmp_path, "a.ogg", bad_media.silence_bomb(70))
    with pytest.raises(AudioTooLong) as caught:
        probe(clip, max_seconds=LIMIT)
    assert caught.value.at_least
    assert probe(clip, max_seconds=75).duration == pytest.approx(70, abs=0.2)


def test_the_budget_counts_audio_and_cpu_against_their_limits():
    budget = DecodeBudget(max_seconds=10)
    budget.charge(decode_budget.CPU_FLOOR_SECONDS, 5)
    budget.charge(0.0, 5)
    with pytest.raises(AudioTooLong) as too_long:
        budget.charge(0.0, 0.1)
    assert too_long.value.at_least and too_long.value.duration == pytest.approx(10.1)

    costly = DecodeBudget()
    costly.charge(decode_budget.CPU_FLOOR_SECONDS, 0)
    with pytest.raises(AudioTooCostly):
        costly.charge(decode_budget.CPU_PER_AUDIO_SECOND * 2, 1)


def test_packets_that_decode_to_nothing_still_spend_the_floor():
    budget = DecodeBudget()
    for _ in range(9):
        budget.charge(decode_budget.CPU_FLOOR_SECONDS / 10, 0)
    with pytest.raises(AudioTooCostly):
        budget.charge(decode_budget.CPU_FLOOR_SECONDS / 5, 0)


@pytest.mark.parametrize("decode", ["probe", "encode"])
def test_every_decoding_pass_stops_a_decoder_slower_than_the_budget(tmp_path, monkeypatch, decode):
    """With no CPU allowed at all, the first packet is already over: proof that probing and
    encoding (which conversions, splits and PCM decoding go through) both charge the budget."""
    monkeypatch.setattr(decode_budget, "CPU_FLOOR_SECONDS", 0.0)
    monkeypatch.setattr(decode_budget, "CPU_PER_AUDIO_SECOND", 0.0)
    clip = audio_samples.write(tmp_path, "a.ogg", audio_samples.encode(2.0))
    with pytest.raises(AudioTooCostly) as caught:
        if decode == "probe":
            probe(clip)
        else:
            encode([clip], tmp_path / "out.ogg", OGG_OPUS)
    assert caught.value.user_message.startswith("That audio file takes too much work to decode")


# Through the real bot ------------------------------------------------------------------------

E2E = [
    "says 1 s, holds 3 hours of silence",
    "says 10 hours, holds 1 s",
    "video only",
    "WAV with an empty data chunk",
    "a playlist naming itself",
    "random bytes after Ogg magic",
]


@pytest.mark.parametrize("name", E2E)
async def test_the_bot_answers_each_bad_file_with_one_private_notice(
    discord_fake, audio_api, tmp_path, private_tmp, name
):
    make, _, reply = CORPUS[name]
    settings = bot_settings(audio_api, tmp_path / "data", max_audio_seconds=LIMIT)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        attachment = world.file_attachment("download", make(), "audio/ogg")
        token = await world.slash("transcribe", attachments={"file": attachment})
        [notice] = await asyncio.wait_for(world.followups(token), HANG_GUARD)
        assert notice.json["content"].startswith(f"⚠️ {reply}")
        assert notice.json["flags"] & dp.FLAG_EPHEMERAL
        await world.settled()
        assert len(world.all_followups(token)) == 1
    assert audio_api.uploads == []
    assert list(private_tmp.iterdir()) == []
