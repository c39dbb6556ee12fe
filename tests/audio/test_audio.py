"""PyAV work: probing, and encoding voice messages and other formats from any source."""

from __future__ import annotations

import base64
import math

import av
import numpy as np
import pytest

from bot.audio.encode import OGG_OPUS, OUTPUT_FORMATS, encode
from bot.audio.pcm import Pcm, decode_pcm, write_wav
from bot.audio.probe import probe
from tests import audio_samples


def decoded(path):
    """(container, codec, sample rate, channels, seconds) as PyAV reads the file back."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        samples = sum(frame.samples for frame in frames)
        return (
            container.format.name,
            stream.codec_context.codec.canonical_name,
            frames[0].sample_rate,
            stream.codec_context.channels,
            samples / frames[0].sample_rate,
        )


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "aac", "flac", "wav", "pcm"])
def test_speech_in_every_provider_format_becomes_a_voice_message(tmp_path, fmt):
    source = audio_samples.write(
        tmp_path,
        f"speech.{fmt}",
        audio_samples.encode(4.2, fmt, rate=24_000 if fmt != "ogg" else None),
    )
    destination = tmp_path / "voice-message.ogg"
    encoded = encode([source], destination, OGG_OPUS, raw_pcm_rate=24_000 if fmt == "pcm" else None)

    container, codec, rate, channels, seconds = decoded(destination)
    assert (container, codec, rate, channels) == ("ogg", "opus", 48_000, 1)
    assert seconds == pytest.approx(4.2, abs=0.1)
    assert encoded.duration == pytest.approx(4.2, abs=0.1)
    waveform = base64.b64decode(encoded.waveform)
    assert len(waveform) == math.ceil(encoded.duration * 10)  # one byte per 100 ms
    assert max(waveform) == 255
    probe(destination)  # a complete Ogg stream, end-of-stream page included


def test_waveform_is_capped_at_256_bytes_and_follows_loudness(tmp_path):
    loud = audio_samples.write(tmp_path, "loud.wav", audio_samples.encode(20.0, "wav"))
    silence = tmp_path / "quiet.pcm"
    silence.write_bytes(bytes(16_000 * 2 * 20))
    quiet = tmp_path / "quiet.wav"
    encode([silence], quiet, OUTPUT_FORMATS["wav"], raw_pcm_rate=16_000)
    encoded = encode([loud, quiet], tmp_path / "v.ogg", OGG_OPUS)
    waveform = base64.b64decode(encoded.waveform)
    assert len(waveform) == 256
    assert min(waveform[:120]) > 200
    assert max(waveform[-120:]) < 10


def test_pieces_of_different_formats_join_into_one_seamless_stream(tmp_path):
    parts = [
        audio_samples.write(tmp_path, "a.mp3", audio_samples.encode(1.5, "mp3")),
        audio_samples.write(tmp_path, "b.flac", audio_samples.encode(2.0, "flac")),
        audio_samples.write(tmp_path, "c.ogg", audio_samples.encode(0.5, "ogg")),
    ]
    encoded = encode(parts, tmp_path / "joined.mp3", OUTPUT_FORMATS["mp3"])
    assert encoded.duration == pytest.approx(4.0, abs=0.1)
    assert decoded(tmp_path / "joined.mp3")[4] == pytest.approx(4.0, abs=0.1)


@pytest.mark.parametrize("name", sorted(OUTPUT_FORMATS))
def test_every_output_format_reads_back(tmp_path, name):
    output = OUTPUT_FORMATS[name]
    source = audio_samples.write(tmp_path, "in.wav", audio_samples.encode(2.0, "wav"))
    destination = tmp_path / f"out.{output.extension}"
    encode([source], destination, output)
    info = probe(destination)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.channels == 1


def test_raw_pcm_is_probed_with_its_rate(tmp_path):
    path = audio_samples.write(tmp_path, "s.pcm", audio_samples.encode(1.0, "pcm"))
    info = probe(path, raw_pcm_rate=24_000)
    assert (info.sample_rate, info.duration) == (24_000, pytest.approx(1.0))


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a", "aiff"])
def test_any_audio_decodes_to_mono_pcm_at_the_asked_rate(tmp_path, fmt):
    source = audio_samples.write(tmp_path, f"memo.{fmt}", audio_samples.encode(2.0, fmt))
    pcm = decode_pcm(source, 16_000)
    assert pcm.sample_rate == 16_000
    assert pcm.duration == pytest.approx(2.0, abs=0.06)
    samples = np.frombuffer(pcm.data, dtype="<i2")
    assert 0.2 * 32767 < np.abs(samples).max() < 0.35 * 32767  # the tone's level, not noise


def test_pcm_written_as_wav_reads_back_sample_for_sample(tmp_path):
    samples = audio_samples.tone(1.5, 22_050)
    destination = tmp_path / "speech.wav"
    write_wav(Pcm(samples.astype("<i2").tobytes(), 22_050), destination)
    assert decoded(destination) == ("wav", "pcm_s16le", 22_050, 1, 1.5)
    assert np.array_equal(np.frombuffer(decode_pcm(destination, 22_050).data, "<i2"), samples)
