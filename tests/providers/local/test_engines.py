"""The embedded engines on their own: how a Whisper model is found, checked, cached and loaded;
eSpeak NG's voices, rates and thread safety; a Piper voice's names, checks and pace. Real
models from test-only packages (tests/local_models.py); nothing is downloaded."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub.constants
import pytest

from bot.audio.pcm import write_wav
from bot.errors import ProviderMisconfigured
from bot.providers.local import whisper as whisper_module
from bot.providers.local.piper_voice import PiperEngine
from bot.providers.local.whisper import MODEL_FILES, WhisperEngine, WhisperJob
from bot.runtime.workers import in_thread
from bot.settings import SettingsError
from tests.local_models import PIPER_JOE, TINY_EN, whisper

STORY = (
    "The library opens early on weekends. Please bring the quarterly report and your laptop. "
    "Do not forget your keys and your phone. I will call you when I get home tonight."
)


def words(text: str) -> list[str]:
    """Lower-case words: the machine's speech varies slightly from call to call, so tests of
    the plumbing look for the words that matter rather than an exact transcript."""
    return re.findall(r"[a-z']+", text.lower())


def spoken(espeak, directory: Path, text: str, voice: str = "English (America)") -> Path:
    path = directory / "speech.wav"
    write_wav(espeak.synthesize(text, voice, 1.0), path)
    return path


def test_no_test_can_reach_a_model_hub():
    assert huggingface_hub.constants.HF_HUB_OFFLINE


# Whisper: which model, and where it comes from -----------------------------------------------


@pytest.mark.parametrize(
    ("size", "multilingual"),
    [("tiny", True), ("base.en", False), ("large-v3", True), ("distil-large-v3", False)],
)
def test_a_size_name_is_accepted_and_judged_without_loading_anything(tmp_path, size, multilingual):
    engine = WhisperEngine(size, cache_dir=tmp_path, beam_size=5, threads=1, workers=1)
    assert engine.multilingual is multilingual
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_size_names_the_setting_and_the_sizes(tmp_path):
    with pytest.raises(SettingsError) as caught:
        WhisperEngine("enormous", cache_dir=tmp_path, beam_size=5, threads=1, workers=1)
    message = str(caught.value)
    assert message.startswith("setting LOCAL_WHISPER_MODEL: 'enormous' is neither a directory")
    assert "tiny.en" in message and "large-v3" in message


def test_a_directory_without_a_complete_model_is_refused_at_start_up(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"weights")
    with pytest.raises(SettingsError) as caught:
        WhisperEngine(str(tmp_path), cache_dir=tmp_path, beam_size=5, threads=1, workers=1)
    assert str(caught.value) == (
        f"setting LOCAL_WHISPER_MODEL: {tmp_path} holds no complete Whisper model (missing "
        "config.json, tokenizer.json, vocabulary.txt or vocabulary.json)"
    )


def test_a_directory_tells_by_its_vocabulary_whether_it_is_multilingual(
    english_whisper, multilingual_whisper
):
    assert not english_whisper.multilingual
    assert multilingual_whisper.multilingual


def test_an_english_model_hears_english_and_says_so(english_whisper, espeak, tmp_path):
    heard = english_whisper.transcribe(
        spoken(espeak, tmp_path, "Do not forget your keys and your phone."), WhisperJob()
    )
    assert {"forget", "keys", "phone"} <= set(words(heard.text))
    assert heard.language == "en"
    assert heard.duration == pytest.approx(2.3, abs=0.6)
    assert [segment.text for segment in heard.segments] == [heard.text]
    [segment] = heard.segments
    assert segment.no_speech_prob is not None and segment.no_speech_prob < 0.6
    assert segment.avg_logprob is not None and -1.0 < segment.avg_logprob < 0.0


def hub_cache(cache: Path, size: str, model: Path) -> None:
    """`model` laid out as the Hugging Face cache holds a downloaded `size`."""
    repo = cache / f"models--Systran--faster-whisper-{size}"
    snapshot = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snapshot.name)
    for name in (*MODEL_FILES, "vocabulary.txt"):
        os.symlink(model / name, snapshot / name)


def test_a_size_already_in_the_cache_loads_from_there(espeak, tmp_path):
    cache = tmp_path / "models"
    hub_cache(cache, "tiny.en", TINY_EN)
    engine = whisper(Path("tiny.en"), cache)
    heard = engine.transcribe(spoken(espeak, tmp_path, "The library opens early."), WhisperJob())
    assert "library" in words(heard.text)


def test_a_size_missing_from_the_cache_while_offline_is_a_misconfiguration(
    espeak, tmp_path, caplog
):
    engine = whisper(Path("tiny"), tmp_path / "models")
    with pytest.raises(ProviderMisconfigured) as caught:
        engine.transcribe(spoken(espeak, tmp_path, "Hello."), WhisperJob())
    assert caught.value.setting == "LOCAL_WHISPER_MODEL"
    assert str(caught.value) == (
        f"the Whisper model 'tiny' is not in {tmp_path / 'models'}, and HF_HUB_OFFLINE=1 forbids "
        "downloading it; check the setting LOCAL_WHISPER_MODEL"
    )
    assert "downloading" not in caplog.text


def test_a_failed_load_is_tried_again_on_the_next_call(espeak, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for name in (*MODEL_FILES, "vocabulary.txt"):
        os.symlink(TINY_EN / name, model / name)
    (model / "model.bin").unlink()
    (model / "model.bin").write_bytes(b"not a model")
    engine = whisper(model, tmp_path)
    speech = spoken(espeak, tmp_path, "The library opens early.")
    with pytest.raises(ProviderMisconfigured):
        engine.transcribe(speech, WhisperJob())
    (model / "model.bin").unlink()
    os.symlink(TINY_EN / "model.bin", model / "model.bin")
    assert "library" in words(engine.transcribe(speech, WhisperJob()).text)


def test_a_stop_ends_decoding_after_the_piece_in_progress(english_whisper, espeak, tmp_path):
    """Seen on a live caption, decoded segment by segment (a batch of stretches is the piece
    otherwise, and the story is one stretch); both ways share the loop that stops."""
    speech = spoken(espeak, tmp_path, STORY)
    whole = english_whisper.transcribe(speech, WhisperJob(live=True))
    assert len(whole.segments) > 1
    stop = threading.Event()
    told: list[str] = []

    def listen(text: str) -> None:
        told.append(text)
        stop.set()

    cut = english_whisper.transcribe(speech, WhisperJob(live=True), listen, stop)
    assert cut.segments == whole.segments[:1]
    assert told == [whole.segments[0].text]


# eSpeak NG ----------------------------------------------------------------------------------


def test_espeak_offers_its_language_voices_american_english_first(espeak):
    voices = espeak.voices
    assert voices[0] == "English (America)"
    assert {"English (Great Britain)", "German", "French (France)", "Japanese"} <= set(voices)
    assert len(voices) > 100
    assert len(set(voices)) == len(voices)
    assert "xextan-test" not in voices


def test_espeak_speed_sets_the_speaking_rate(espeak):
    text = "Please bring the quarterly report and your laptop."
    normal, slow, fast = (espeak.synthesize(text, "English (America)", s) for s in (1, 0.5, 2.5))
    assert normal.sample_rate == 22_050
    assert 1.6 < slow.duration / normal.duration < 2.2
    assert 2.0 < normal.duration / fast.duration < 3.0


def test_espeak_speaks_every_language_it_offers_by_name(espeak):
    for voice in ("German", "Japanese", "Chinese (Mandarin, latin as English)"):
        assert espeak.synthesize("Guten Tag. こんにちは. 你好.", voice, 1.0).duration > 0.5


def test_espeak_can_be_called_from_many_threads_at_once(espeak):
    texts = [f"This is sentence number {n}, {'and more ' * n}of the test." for n in range(8)]
    alone = [espeak.synthesize(text, "English (America)", 1.0).duration for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda t: espeak.synthesize(t, "English (America)", 1.0), texts))
    assert [pcm.duration for pcm in together] == pytest.approx(alone, abs=0.05)


async def cancelled_soon_after_starting(work) -> float:
    """Run `work` in a worker, cancel its caller as soon as the thread is under way, and
    return the seconds until the caller is released (the thread has ended by then)."""
    task = asyncio.ensure_future(in_thread(work))
    await asyncio.sleep(0)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.perf_counter() - started


LONG_TEXT = " ".join(f"This is sentence number {n} of a long text read aloud." for n in range(40))


async def test_espeak_stops_speaking_when_its_caller_is_cancelled(espeak):
    def speak() -> None:
        espeak.synthesize(LONG_TEXT, "English (America)", 1.0)

    started = time.perf_counter()
    speak()
    whole = time.perf_counter() - started
    assert await cancelled_soon_after_starting(speak) < whole / 4
    assert espeak.synthesize("Still speaking.", "English (America)", 1.0).duration > 0.5


# Piper ---------------------------------------------------------------------------------------


def test_a_piper_voice_is_named_by_language_region_and_dataset(piper):
    assert piper.voices == ("English (United States, Piper joe)",)


def piper_copy(tmp_path: Path, **changes) -> Path:
    """The joe voice with its configuration changed."""
    model = tmp_path / "voice.onnx"
    os.symlink(PIPER_JOE, model)
    config = json.loads(PIPER_JOE.with_name(f"{PIPER_JOE.name}.json").read_text())
    (tmp_path / "voice.onnx.json").write_text(json.dumps(config | changes))
    return model


def test_each_speaker_of_a_multi_speaker_voice_is_a_voice(tmp_path):
    model = piper_copy(tmp_path, num_speakers=2, speaker_id_map={"amy": 0, "bob": 1})
    assert PiperEngine(model, threads=1).voices == (
        "English (United States, Piper joe amy)",
        "English (United States, Piper joe bob)",
    )


def test_a_piper_voice_needs_its_configuration_beside_it(tmp_path):
    model = tmp_path / "voice.onnx"
    shutil.copyfile(PIPER_JOE, model)
    with pytest.raises(SettingsError, match=r"^setting LOCAL_PIPER_VOICE: a Piper voice is"):
        PiperEngine(model, threads=1)
    (tmp_path / "voice.onnx.json").write_text("{}")
    with pytest.raises(SettingsError, match=r"^setting LOCAL_PIPER_VOICE: unreadable"):
        PiperEngine(model, threads=1)


def test_a_piper_voice_with_phonemes_that_need_downloads_is_refused(tmp_path):
    with pytest.raises(SettingsError) as caught:
        PiperEngine(piper_copy(tmp_path, phoneme_type="pinyin"), threads=1)
    assert str(caught.value) == (
        "setting LOCAL_PIPER_VOICE: voice.onnx takes pinyin phonemes; "
        "earshot supports voices with espeak or text phonemes"
    )


def test_a_piper_model_that_does_not_load_is_a_misconfiguration(tmp_path):
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"not a model")
    shutil.copyfile(PIPER_JOE.with_name(f"{PIPER_JOE.name}.json"), tmp_path / "voice.onnx.json")
    engine = PiperEngine(model, threads=1)
    with pytest.raises(ProviderMisconfigured) as caught:
        engine.synthesize("Hello.", engine.voices[0], 1.0)
    assert caught.value.setting == "LOCAL_PIPER_VOICE"


def test_a_piper_voice_speaks_at_the_asked_pace(piper):
    text = "Please bring the quarterly report and your laptop."
    normal, slow, fast = (piper.synthesize(text, piper.voices[0], s) for s in (1, 0.5, 2))
    assert normal.sample_rate == 22_050
    assert 1.3 < slow.duration / normal.duration < 2.2
    assert 1.3 < normal.duration / fast.duration < 2.2


async def test_a_piper_voice_stops_after_the_sentence_when_its_caller_is_cancelled(piper):
    def speak() -> None:
        piper.synthesize(LONG_TEXT, piper.voices[0], 1.0)

    started = time.perf_counter()
    speak()
    whole = time.perf_counter() - started
    assert await cancelled_soon_after_starting(speak) < whole / 4


def test_pieces_the_model_judged_silent_are_dropped_even_from_a_translation(
    english_whisper, espeak, tmp_path, monkeypatch
):
    """faster-whisper's batched pipeline yields every piece, silent ones too; the engine drops
    them by the rule its sequential decoding applies (here with a stand-in pipeline, since
    real speech is never judged silent)."""
    silent = SimpleNamespace(
        start=0.0, end=1.0, text=" Thanks.", words=[], no_speech_prob=0.9, avg_logprob=-1.4
    )
    real = SimpleNamespace(
        start=1.0, end=2.0, text=" Hello.", words=[], no_speech_prob=0.9, avg_logprob=-0.5
    )

    class Pipeline:
        def __init__(self, model) -> None:
            pass

        def transcribe(self, samples, **options):
            return iter([silent, real]), SimpleNamespace(language="en", duration=2.0)

    monkeypatch.setattr(whisper_module, "BatchedInferencePipeline", Pipeline)
    speech = spoken(espeak, tmp_path, "Hello.")
    heard = english_whisper.transcribe(speech, WhisperJob(task="translate"))
    assert heard.text == "Hello."
    assert [s.text for s in heard.segments] == ["Hello."]
