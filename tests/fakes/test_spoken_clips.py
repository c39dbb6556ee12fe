"""Self-tests of the spoken clips (``tests.spoken_clips``) and of how the audio stand-in knows
what each clip says (``FakeAudioAPI.clip_texts``, ``tests.fakes.audio_markers``): eSpeak speech
with a marker tone goes through Opus and back to 16 kHz, as the receiver hands it on, and is
recognised; silence and noise carry no marker."""

from __future__ import annotations

import io
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from bot.audio.pcm import Pcm, write_wav
from tests.audio_samples import OPUS_FRAME_SAMPLES, OPUS_RATE, decode_opus
from tests.fakes.audio_api import API_KEY, FakeAudioAPI
from tests.fakes.audio_markers import PROMINENCE, marker_in, prominences
from tests.spoken_clips import MARKERS, SPEECH_RMS, noise, silence, spoken

HEARD_RATE = 16_000
GREETING = "Hello everyone, can you hear me?"
ANSWER = "The quick brown fox jumps over the lazy dog."


def heard(packets: list[bytes]) -> np.ndarray:
    """What a receiver hears: each packet decoded, mixed to mono, resampled to 16 kHz."""
    stereo = np.concatenate(decode_opus(packets))
    frame = av.AudioFrame.from_ndarray(
        stereo.mean(axis=1).astype(np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = OPUS_RATE
    resampler = av.AudioResampler(format="flt", layout="mono", rate=HEARD_RATE)
    frames = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([out.to_ndarray().reshape(-1) for out in frames])


def wav(samples: np.ndarray, directory: Path) -> bytes:
    """``samples`` as the 16-bit WAV file a captioner uploads."""
    path = directory / "utterance.wav"
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    write_wav(Pcm(pcm, HEARD_RATE), path)
    return path.read_bytes()


async def transcribe(http: httpx.AsyncClient, api: FakeAudioAPI, data: bytes) -> str:
    response = await http.post(
        f"{api.base_url}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        data={"model": "whisper-1"},
        files={"file": ("utterance.wav", data, "audio/wav")},
    )
    response.raise_for_status()
    return str(response.json()["text"])


def test_a_spoken_clip_is_speech_as_discord_packets() -> None:
    packets = spoken(GREETING, MARKERS[0])

    decoded = decode_opus(packets)
    assert all(len(samples) == OPUS_FRAME_SAMPLES for samples in decoded)
    seconds = len(packets) * OPUS_FRAME_SAMPLES / OPUS_RATE
    assert 1.0 < seconds < 4.0  # a short sentence at eSpeak's normal rate
    audio = heard(packets)
    assert float(np.sqrt(np.mean(audio**2))) == pytest.approx(SPEECH_RMS, rel=0.5)


def test_a_marker_outside_its_range_is_refused() -> None:
    with pytest.raises(ValueError, match="marker"):
        spoken(GREETING, 440)


def test_each_marker_is_found_alone_and_under_another_speaker() -> None:
    greeting, answer = heard(spoken(GREETING, MARKERS[1])), heard(spoken(ANSWER, MARKERS[4]))
    both = greeting[: min(len(greeting), len(answer))] + answer[: len(greeting)]

    assert marker_in(greeting, HEARD_RATE, MARKERS) == MARKERS[1]
    assert marker_in(answer, HEARD_RATE, MARKERS) == MARKERS[4]
    scores = prominences(both, HEARD_RATE, MARKERS)
    assert {marker for marker, score in scores.items() if score >= PROMINENCE} == {
        MARKERS[1],
        MARKERS[4],
    }


@pytest.mark.parametrize(
    "packets",
    [silence(1.0), noise(2.0), noise(2.0, pink=True), spoken(GREETING, MARKERS[2])],
    ids=["silence", "white noise", "pink noise", "speech, marker not registered"],
)
def test_audio_without_a_registered_marker_has_none(packets: list[bytes]) -> None:
    assert marker_in(heard(packets), HEARD_RATE, MARKERS[:2]) is None


def test_noise_is_as_loud_as_speech() -> None:
    for packets in (noise(2.0), noise(2.0, pink=True)):
        stereo = np.concatenate(decode_opus(packets))
        assert float(np.sqrt(np.mean(stereo**2))) == pytest.approx(SPEECH_RMS, rel=0.25)


async def test_the_audio_stand_in_answers_each_clip_with_its_text(
    audio_api: FakeAudioAPI, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    audio_api.clip_texts = {MARKERS[0]: GREETING, MARKERS[3]: ANSWER}
    audio_api.transcripts.append("queued")

    answer = await transcribe(http, audio_api, wav(heard(spoken(ANSWER, MARKERS[3])), tmp_path))
    greeting = await transcribe(http, audio_api, wav(heard(spoken(GREETING, MARKERS[0])), tmp_path))
    unmarked = await transcribe(http, audio_api, wav(heard(noise(1.0)), tmp_path))

    assert (answer, greeting, unmarked) == (ANSWER, GREETING, "queued")
    with av.open(io.BytesIO(audio_api.uploads[0].data)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == HEARD_RATE
