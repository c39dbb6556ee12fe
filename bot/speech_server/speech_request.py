"""What a speech request asks, read from its JSON body as OpenAI's API documents it: `model`
(required; any name is answered by this server's engine), `input` (1–4096 characters),
`voice`, `response_format` (mp3 by default, or opus, aac, flac, wav, pcm) and `speed`
(0.25–4.0). `instructions` are taken and not followed: the engine has no way to.

A voice is one of the engine's own, by name, or one of OpenAI's (alloy, echo, …), which every
client knows: those are all spoken by the engine's first voice. A speed the engine cannot
reach is brought to the nearest it can (eSpeak NG and Piper: 0.5–2.5).
"""

from __future__ import annotations

from typing import Any

from bot.model import SPEECH_FORMATS, SpeechFormat, SpeechRequest
from bot.providers.interface import Capabilities
from bot.providers.openai_compat import ALL_VOICES
from bot.speech_server.api_errors import ApiError

MAX_INPUT_CHARS = 4096
SPEEDS = (0.25, 4.0)
VOICES_NAMED = 5
"""Engine voices an error about an unknown voice names as examples."""


def speech_asked(body: Any, capabilities: Capabilities) -> SpeechRequest:
    """The request in `body` for an engine with `capabilities`, in the format asked (which the
    engine may not make: see `speech_answers`); raises `ApiError` (400) naming the first field
    that is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "you must provide a model parameter", param="model")
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "input must be a non-empty string", param="input")
    if len(text) > MAX_INPUT_CHARS:
        raise ApiError(
            400,
            f"input is longer than {MAX_INPUT_CHARS} characters",
            param="input",
            code="string_above_max_length",
        )
    return SpeechRequest(
        text=text,
        voice=_voice(body.get("voice"), capabilities.voices),
        speed=_speed(body.get("speed", 1.0), capabilities.speeds),
        response_format=_format(body.get("response_format", "mp3")),
    )


def _voice(asked: object, voices: tuple[str, ...]) -> str:
    if isinstance(asked, str) and asked in voices:
        return asked
    if isinstance(asked, str) and asked in ALL_VOICES and voices:
        return voices[0]
    examples = ", ".join(voices[:VOICES_NAMED])
    raise ApiError(
        400,
        f"voice must be one of OpenAI's ({', '.join(ALL_VOICES)}) or of this engine's, "
        f"such as {examples}",
        param="voice",
    )


def _speed(asked: object, engine_speeds: tuple[float, float]) -> float:
    low, high = SPEEDS
    if isinstance(asked, bool) or not isinstance(asked, int | float) or not low <= asked <= high:
        raise ApiError(400, f"speed must be a number from {low} to {high}", param="speed")
    slowest, fastest = engine_speeds
    return min(max(float(asked), slowest), fastest)


def _format(asked: object) -> SpeechFormat:
    known = next((name for name in SPEECH_FORMATS if name == asked), None)
    if known is None:
        raise ApiError(
            400,
            f"response_format must be one of {', '.join(SPEECH_FORMATS)}",
            param="response_format",
        )
    return known
