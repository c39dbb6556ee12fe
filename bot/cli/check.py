"""`python -m bot check`: the configured provider verified end to end, without Discord.

A short sentence is synthesized (where the provider speaks), then transcribed and translated
(where it can), each step through the same code the bot uses. Every capability gets a line
saying whether it works; nothing is posted anywhere.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.cli.offline import offline_tools
from bot.errors import EarshotError
from bot.model import TranscriptionOptions, TranslationOptions
from bot.providers.interface import AudioProvider
from bot.runtime.scratch import scratch_directory
from bot.runtime.workers import in_thread
from bot.settings import Settings
from bot.speech.synthesis import SpeechOptions, SpeechSynthesizer
from bot.transcription.pipeline import Pipeline

CHECK_SENTENCE = "Earshot is listening. One, two, three."


@dataclass(frozen=True)
class CheckResult:
    capability: str
    works: bool | None
    """None: the provider does not offer it, or it could not be tried."""
    detail: str

    def __str__(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.works]
        return f"{mark} {self.capability:<11} {self.detail}"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


async def check(settings: Settings) -> bool:
    """`check_provider` on the configured provider, a line printed per capability; True
    unless one failed."""
    async with offline_tools(settings) as tools:
        results = await check_provider(tools.provider, tools.pipeline, tools.speaker)
    for result in results:
        print(result)
    return all(result.works is not False for result in results)


async def check_provider(
    provider: AudioProvider, pipeline: Pipeline, speaker: SpeechSynthesizer
) -> list[CheckResult]:
    """Try speak, then transcribe and translate what was spoken; one result per capability."""
    capabilities = provider.capabilities
    results = [CheckResult("provider", True, provider.name)]
    async with scratch_directory("check") as folder:
        sample: Path | None = None
        if not capabilities.speak:
            results.append(CheckResult("speak", None, "not offered by this provider"))
        else:
            try:
                async with speaker.speak(CHECK_SENTENCE, SpeechOptions(output="wav")) as speech:
                    sample = Path(folder) / "sample.wav"
                    await in_thread(shutil.copyfile, speech.path, sample)
                results.append(
                    CheckResult("speak", True, f"{speech.duration:.1f} s, voice {speech.voice}")
                )
            except EarshotError as error:
                results.append(CheckResult("speak", False, f"{error.user_message} ({error})"))
        for capability, offered in (
            ("transcribe", capabilities.transcribe),
            ("translate", capabilities.translate),
        ):
            if not offered:
                results.append(CheckResult(capability, None, "not offered by this provider"))
            elif sample is None:
                results.append(CheckResult(capability, None, "not tried: no speech to send"))
            else:
                results.append(await _understand(capability, pipeline, sample))
    return results


async def _understand(capability: str, pipeline: Pipeline, sample: Path) -> CheckResult:
    try:
        if capability == "transcribe":
            result = await pipeline.transcribe(sample, TranscriptionOptions(language="en"))
        else:
            result = await pipeline.translate(sample, TranslationOptions())
    except EarshotError as error:
        return CheckResult(capability, False, f"{error.user_message} ({error})")
    heard = result.transcript.text
    overlap = len(_words(heard) & _words(CHECK_SENTENCE)) / len(_words(CHECK_SENTENCE))
    return CheckResult(capability, True, f"heard “{heard[:80]}” ({overlap:.0%} of the words)")
