"""A streamed transcription (`stream=true` on `/v1/audio/transcriptions`) read from its
server-sent events.

`transcript.text.delta` events (`{"type", "delta"}`) grow the text and `transcript.text.done`
(`{"type", "text"}`) settles it: only a stream that reaches `done` is a transcript. A stream that
ends before it was cut short (a dropped connection, a gateway timing out) and raises the
retryable `ProviderUnavailable`, so the whole transcription is tried again from the start and
nothing partial is ever returned, shown as final or cached.

An error event ends the stream with the provider error it names. Gateways send it as an SSE
event named `error` or as data typed `error`, with OpenAI's `{"error": {"message", "type",
"code"}}` or flat (`{"type": "error", "message", "code"}`): a numeric `status` or `code` maps
like an HTTP status, a textual code or type by `http_errors.error_for_code`. Events of other types
(keep-alives, segments) and a final `[DONE]` are skipped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from httpx_sse import ServerSentEvent

from bot.errors import ProviderError, ProviderUnavailable
from bot.providers.http_errors import (
    AUDIO_API_SETTINGS,
    error_for_code,
    error_for_status,
    shortened,
)
from bot.providers.interface import TextListener

DELTA = "transcript.text.delta"
DONE = "transcript.text.done"
ERROR = "error"


async def read_transcript_stream(
    events: AsyncIterator[ServerSentEvent],
    on_text: TextListener,
    *,
    where: str,
    mask: Callable[[str], str],
) -> str:
    """The final text of a transcript stream from `where` (a path, for the log), telling
    `on_text` the text so far after each delta and the final text once `done`.

    Raises `ProviderUnavailable` for a stream that ends before `done` or an event that is not
    what its type says, and the error an error event names, its detail passed through `mask`
    (which hides the API key).
    """
    text = ""
    async for event in events:
        if not event.data or event.data == "[DONE]":
            continue
        payload = _payload(event)
        kind = payload.get("type", event.event)
        if event.event == ERROR or kind == ERROR or isinstance(payload.get("error"), dict):
            raise _error_event(payload, where, mask)
        if kind == DELTA:
            text += _text_field(payload, "delta")
            await on_text(text)
        elif kind == DONE:
            text = _text_field(payload, "text")
            await on_text(text)
            return text
    raise ProviderUnavailable(
        f"the transcript stream from {where} ended before {DONE} "
        f"({len(text)} characters so far): cut short"
    )


def _payload(event: ServerSentEvent) -> dict[str, Any]:
    try:
        payload = json.loads(event.data)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise ProviderUnavailable(f"unreadable stream event: {event.data[:200]!r}")
    return payload


def _text_field(payload: dict[str, Any], name: str) -> str:
    """The string `name` of an event; one without it is not the event its type claims."""
    value = payload.get(name)
    if not isinstance(value, str):
        raise ProviderUnavailable(f"a {payload.get('type')} event without {name}: {payload!r:.200}")
    return value


def _error_event(payload: dict[str, Any], where: str, mask: Callable[[str], str]) -> ProviderError:
    """The provider error an error event names (nested under `error`, or flat)."""
    nested = payload.get("error")
    error = nested if isinstance(nested, dict) else payload
    message = error.get("message")
    detail = mask(
        shortened(message if isinstance(message, str) and message.strip() else "no message")
    )
    code, kind = error.get("code"), error.get("type")
    status = next((value for value in (error.get("status"), code) if isinstance(value, int)), None)
    described = f"error event ({code or kind or 'no code'}) in the stream from {where}: {detail}"
    if status is not None:
        return error_for_status(status, described, detail, AUDIO_API_SETTINGS)
    return error_for_code(f"{code or ''} {kind or ''}", described, detail, AUDIO_API_SETTINGS)
