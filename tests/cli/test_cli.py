"""`python -m bot transcribe`: the operator's check of the provider settings, without Discord."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from bot.audio.probe import probe
from tests import audio_samples
from tests.fakes.audio_api import API_KEY, FakeAudioAPI, Fault


async def run_cli(
    *args: str,
    cwd,
    api: FakeAudioAPI | None = None,
    key: str = API_KEY,
    launch: tuple[str, ...] = ("-m", "bot"),
    **env: str,
) -> tuple[int, str, str]:
    """Run `python -m bot ARGS` in a process of its own, pointed at `api` with `key`; `launch`
    replaces `-m bot` (e.g. `-c SCRIPT`)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
    if api is not None:
        env = {"AUDIO_BASE_URL": api.base_url, "AUDIO_API_KEY": key} | env
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *launch,
        *args,
        cwd=cwd,
        env=keep | {"NO_PROXY": "127.0.0.1"} | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_transcribe_prints_the_transcript_in_the_asked_format(audio_api, tmp_path):
    path = audio_samples.write(tmp_path, "memo.mp3", audio_samples.encode(2.0, "mp3"))
    audio_api.transcripts.append("Hello from the command line.")
    code, out, err = await run_cli(
        "transcribe",
        str(path),
        "--language",
        "en",
        "--format",
        "srt",
        cwd=tmp_path,
        api=audio_api,
    )
    assert (code, err) == (0, "")
    assert out == "1\n00:00:00,000 --> 00:00:02,000\nHello from the command line.\n"
    [upload] = audio_api.uploads
    assert upload.fields["language"] == "en"
    assert upload.fields["response_format"] == "verbose_json"  # subtitles are earshot's own


async def test_transcribe_reports_a_wrong_key_without_a_traceback(audio_api, tmp_path):
    path = audio_samples.write(tmp_path, "memo.ogg", audio_samples.encode(1.0, "ogg"))
    code, out, err = await run_cli(
        "transcribe",
        str(path),
        cwd=tmp_path,
        api=audio_api,
        key="not-the-key",
    )
    assert code == 1
    assert "Traceback" not in err
    assert "check the setting AUDIO_API_KEY" in err
    assert "not-the-key" not in err + out


async def test_transcribe_reports_an_outage_after_retrying(audio_api, tmp_path):
    path = audio_samples.write(tmp_path, "memo.ogg", audio_samples.encode(1.0, "ogg"))
    audio_api.faults.extend([Fault.http(503)] * 2)
    code, _, err = await run_cli(
        "transcribe",
        str(path),
        cwd=tmp_path,
        api=audio_api,
        PROVIDER_MAX_ATTEMPTS="2",
    )
    assert code == 1
    assert "The audio service is unavailable right now." in err
    assert len(audio_api.uploads) == 2


async def test_transcribe_refuses_a_file_that_is_not_audio(audio_api, tmp_path):
    path = audio_samples.write(tmp_path, "notes.ogg", b"just some text\n" * 10)
    code, _, err = await run_cli(
        "transcribe",
        str(path),
        cwd=tmp_path,
        api=audio_api,
    )
    assert code == 1
    assert err.startswith("That file is not audio I can read.")
    assert audio_api.uploads == []


async def test_translate_prints_the_english_text(audio_api, tmp_path):
    path = audio_samples.write(tmp_path, "hola.ogg", audio_samples.encode(1.0, "ogg"))
    audio_api.transcripts.append("Hello, how are you?")
    code, out, err = await run_cli(
        "translate",
        str(path),
        cwd=tmp_path,
        api=audio_api,
    )
    assert (code, out, err) == (0, "Hello, how are you?\n", "")
    assert audio_api.uploads[0].path == "/v1/audio/translations"


@pytest.mark.parametrize(
    ("name", "container"), [("out.ogg", "ogg"), ("out.mp3", "mp3"), ("out.wav", "wav")]
)
async def test_speak_writes_the_file_the_output_name_asks_for(audio_api, tmp_path, name, container):
    code, out, err = await run_cli(
        "speak",
        "Testing the provider settings.",
        "-o",
        name,
        "--voice",
        "echo",
        cwd=tmp_path,
        api=audio_api,
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {name}: 0.3 s, voice echo")
    info = probe(tmp_path / name)
    assert info.container == container
    assert info.duration == pytest.approx(0.3, abs=0.1)


async def test_speak_with_an_unknown_voice_explains_itself(audio_api, tmp_path):
    code, _, err = await run_cli(
        "speak",
        "hi",
        "-o",
        "x.ogg",
        "--voice",
        "robot",
        cwd=tmp_path,
        api=audio_api,
    )
    assert code == 1
    assert err.startswith("I don't know the voice “robot”.")
    assert audio_api.speech_requests == []


async def test_check_tries_every_capability_and_says_what_works(audio_api, tmp_path):
    audio_api.transcripts.extend(
        ["Earshot is listening. One, two, three.", "Earshot is listening."]
    )
    code, out, err = await run_cli("check", cwd=tmp_path, api=audio_api)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "ok   provider    openai"
    assert lines[1].startswith("ok   speak       ")
    assert lines[2] == (
        "ok   transcribe  heard “Earshot is listening. One, two, three.” (100% of the words)"
    )
    assert lines[3].startswith("ok   translate   heard “Earshot is listening.”")
    assert [r["input"] for r in audio_api.speech_requests] == [
        "Earshot is listening. One, two, three."
    ]


async def test_check_reports_a_rejected_key_and_fails(audio_api, tmp_path):
    code, out, _ = await run_cli("check", cwd=tmp_path, api=audio_api, key="wrong")
    assert code == 1
    assert "FAIL speak       I'm not set up correctly" in out
    assert "check the setting AUDIO_API_KEY" in out
    assert "--   transcribe  not tried: no speech to send" in out


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("text", "Two words."),
        ("timestamps", "[0:00] Two words."),
        ("vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nTwo words."),
    ],
)
async def test_transcribe_writes_each_layout(audio_api, tmp_path, layout, expected):
    path = audio_samples.write(tmp_path, "memo.ogg", audio_samples.encode(1.0, "ogg"))
    audio_api.transcripts.append("Two words.")
    code, out, err = await run_cli(
        "transcribe",
        str(path),
        "--format",
        layout,
        cwd=tmp_path,
        api=audio_api,
    )
    assert (code, err, out) == (0, "", expected + "\n")
