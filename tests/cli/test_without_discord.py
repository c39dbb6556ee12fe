"""The core is usable without Discord: `transcribe`, `translate`, `speak` and `check` work in a
process where discord.py cannot be imported, and none of them even tries; `run` is the one
that needs it."""

from __future__ import annotations

from bot.audio.probe import probe
from tests import audio_samples
from tests.cli.test_cli import run_cli

WITHOUT_DISCORD = (
    "-c",
    """
import runpy, sys

tried = []


class NoDiscord:
    '''Refuses discord.py and its submodules, as if it were not installed, noting each try.'''

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "discord":
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoDiscord())
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
finally:
    if tried:
        print("tried to import", *tried, file=sys.stderr)
""",
)


async def test_every_command_but_run_works_where_discord_cannot_be_imported(audio_api, tmp_path):
    memo = audio_samples.write(tmp_path, "memo.ogg", audio_samples.encode(1.0, "ogg"))
    audio_api.transcripts.extend(
        [
            "Heard without Discord.",
            "Translated without Discord.",
            "Earshot is listening. One, two, three.",
            "Earshot is listening.",
        ]
    )

    async def without_discord(*args: str) -> tuple[int, str, str]:
        return await run_cli(*args, cwd=tmp_path, api=audio_api, launch=WITHOUT_DISCORD)

    transcribed = await without_discord("transcribe", str(memo), "--format", "srt")
    assert transcribed == (0, "1\n00:00:00,000 --> 00:00:01,000\nHeard without Discord.\n", "")
    assert await without_discord("translate", str(memo)) == (0, "Translated without Discord.\n", "")
    code, out, err = await without_discord("speak", "Spoken without Discord.", "-o", "said.mp3")
    assert (code, err) == (0, "")
    assert out.startswith("wrote said.mp3: ") and out.endswith(" s, voice alloy\n")
    assert probe(tmp_path / "said.mp3").container == "mp3"
    code, out, err = await without_discord("check")
    assert (code, err) == (0, "")
    assert [line[:15] for line in out.splitlines()] == [
        "ok   provider  ",
        "ok   speak     ",
        "ok   transcribe",
        "ok   translate ",
    ]

    code, out, err = await run_cli(
        "run", cwd=tmp_path, api=audio_api, launch=WITHOUT_DISCORD, DISCORD_TOKEN="token"
    )
    assert (code, out) == (1, "")
    assert err.startswith("tried to import discord\n")
    assert "bot/cli/discord_bot.py" in err  # the one module of the command line that needs it
    assert err.endswith("ModuleNotFoundError: No module named 'discord'\n")
