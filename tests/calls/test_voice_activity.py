"""SpeechDetector/SpeechStream: Silero VAD from faster-whisper's model, streamed per member,
on real speech (eSpeak NG at 16 kHz), silence and noise."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.vad import get_vad_model

from bot.calls.voice_activity import CHUNK_SAMPLES, SpeechDetector, model_path
from tests.calls.heard_speech import frames, silence, spoken, white_noise

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def detector() -> SpeechDetector:
    return SpeechDetector.load()


def pushed(stream, audio: np.ndarray) -> list[float]:
    return [p for frame in frames(audio) for p in stream.push(frame)]


def test_the_model_is_the_one_faster_whisper_ships():
    assert model_path().is_file()
    assert model_path().name == "silero_vad_v6.onnx"


def test_speech_is_told_from_silence_and_noise(detector):
    speech = pushed(detector.stream(), np.concatenate((silence(0.5), spoken(SENTENCE))))
    quiet = pushed(detector.stream(), silence(2.0))
    noise = pushed(detector.stream(), white_noise(2.0))
    assert max(quiet) < 0.1
    assert max(noise) < 0.35
    assert max(speech[:10]) < 0.1  # the half second of silence before the sentence
    assert np.mean(np.array(speech[20:60]) > 0.5) > 0.8


def test_streaming_in_frames_matches_faster_whisper_judging_the_whole_recording(detector):
    audio = np.concatenate((silence(0.3), spoken(SENTENCE), silence(0.3)))
    audio = audio[: len(audio) - len(audio) % CHUNK_SAMPLES]
    whole = get_vad_model()(audio).ravel()
    stream = detector.stream()
    # Pieces of any length: the stream buffers what does not fill a chunk.
    streamed = [p for piece in np.array_split(audio, 97) for p in stream.push(piece)]
    assert len(streamed) == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_members_streams_keep_their_own_state(detector):
    speech, noise = spoken(SENTENCE), white_noise(len(spoken(SENTENCE)) / 16_000)
    alone = pushed(detector.stream(), speech)
    first, second = detector.stream(), detector.stream()
    interleaved: list[float] = []
    for speech_frame, noise_frame in zip(frames(speech), frames(noise), strict=True):
        interleaved += first.push(speech_frame)
        second.push(noise_frame)
    np.testing.assert_allclose(interleaved, alone, atol=1e-6)


def test_reset_forgets_the_voice(detector):
    stream = detector.stream()
    fresh = pushed(detector.stream(), spoken(SENTENCE))
    stream.push(spoken("Something else entirely, said first.")[:1000])
    stream.reset()
    np.testing.assert_allclose(pushed(stream, spoken(SENTENCE)), fresh, atol=1e-6)


def test_loading_twice_shares_the_one_session(detector):
    again = SpeechDetector.load()
    assert again._session is detector._session
