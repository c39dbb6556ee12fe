"""`python -m bot` with no key and no network: the local engine speaks, transcribes and checks
itself, offline; a model that is not there stops the command with one line naming the
setting."""

from __future__ import annotations

from tests.cli.test_cli import run_cli
from tests.local_models import TINY_EN

OFFLINE = {"HF_HUB_OFFLINE": "1", "LOCAL_WHISPER_MODEL": str(TINY_EN), "LOCAL_PIPER_VOICE": "none"}


async def test_speak_then_transcribe_a_voice_memo_offline(tmp_path):
    said = "Please bring the quarterly report and your laptop."
    code, out, _ = await run_cli("speak", said, "-o", "memo.ogg", cwd=tmp_path, **OFFLINE)
    assert code == 0
    assert out.startswith("wrote memo.ogg: ") and out.endswith(" s, voice English (America)\n")
    subtitles = ("--format", "vtt")
    code, out, _ = await run_cli("transcribe", "memo.ogg", *subtitles, cwd=tmp_path, **OFFLINE)
    assert code == 0
    assert out.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:0")
    assert "quarterly report" in out.lower()


async def test_check_reports_the_local_engine(tmp_path):
    code, out, _ = await run_cli("check", cwd=tmp_path, **OFFLINE)
    lines = out.splitlines()
    assert lines[0] == "ok   provider    local"
    assert lines[1].startswith("ok   speak       ") and lines[1].endswith("voice English (America)")
    assert lines[2].startswith("ok   transcribe  heard “")
    assert lines[3] == "--   translate   not offered by this provider"
    assert code == 0


async def test_a_model_that_is_not_there_stops_the_command_naming_the_setting(tmp_path):
    missing = tmp_path / "no-such-model"
    code, out, err = await run_cli(
        "transcribe", __file__, cwd=tmp_path, HF_HUB_OFFLINE="1", LOCAL_WHISPER_MODEL=str(missing)
    )
    assert (code, out) == (2, "")
    assert err.startswith(
        f"earshot cannot start:\nsetting LOCAL_WHISPER_MODEL: '{missing}' is neither a directory"
    )


async def test_the_default_piper_voice_gives_way_to_espeak_when_it_cannot_be_downloaded(tmp_path):
    offline_with_the_default_voice = {k: v for k, v in OFFLINE.items() if k != "LOCAL_PIPER_VOICE"}
    code, out, err = await run_cli("check", cwd=tmp_path, **offline_with_the_default_voice)
    assert code == 0
    assert out.splitlines()[1].endswith("voice English (America)")
    assert "setting LOCAL_PIPER_VOICE: no Piper voice en_US-lessac-medium, as it is not in " in err
    assert "HF_HUB_OFFLINE=1 forbids downloading it; speaking with eSpeak NG's voices" in err
