"""A request's multipart form read safely: its text fields bounded, its `file` streamed to a
file on disk while its size is counted, never held in memory; what is over a limit is read to
its end and dropped, so the client, which sends its whole upload before it reads the answer,
gets the error rather than a broken connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiofiles
from aiohttp import BodyPartReader, MultipartReader, web

from bot.errors import AudioTooLarge
from bot.speech_server.api_errors import ApiError

CHUNK_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
"""Longest text field (a prompt is a few hundred characters)."""
MAX_FIELDS = 64
"""Most text fields in one form (OpenAI's requests have about ten): with the longest field,
what a form's text may hold in memory is bounded (4 MiB)."""
FILE_FIELD = "file"


@dataclass
class Form:
    """The text fields (a repeated one, such as `timestamp_granularities[]`, as all of its
    values in order) and the uploaded file."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    file: Path | None = None
    filename: str = "audio"
    content_type: str = "application/octet-stream"

    def value(self, name: str) -> str | None:
        """The field's last value, None when it was not sent or sent blank."""
        values = self.fields.get(name)
        return (values[-1].strip() or None) if values else None


async def read_form(request: web.Request, folder: Path, *, max_file_bytes: int) -> Form:
    """The form of `request`, its file written into `folder`. Raises `ApiError` (400) for a
    body that is not multipart (or is malformed), more than `MAX_FIELDS` fields or a field over
    `MAX_FIELD_BYTES`, and `AudioTooLarge` for a file over `max_file_bytes`."""
    if not request.content_type.startswith("multipart/form-data"):
        await discard_body(request)
        raise ApiError(400, "the request must be multipart/form-data")
    form = Form()
    try:
        reader = await request.multipart()
        await _read_parts(reader, form, folder, max_file_bytes, request)
    except (ValueError, KeyError, AssertionError) as error:  # aiohttp's word for a broken body
        await discard_body(request)
        raise ApiError(400, "the multipart body is malformed") from error
    return form


async def _read_parts(
    reader: MultipartReader, form: Form, folder: Path, max_file_bytes: int, request: web.Request
) -> None:
    fields = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise ApiError(400, "nested multipart bodies are not taken")
        if part.name == FILE_FIELD and part.filename is not None:
            form.file = folder / "upload"
            form.filename = part.filename
            form.content_type = part.headers.get("Content-Type", form.content_type)
            await _save(part, form.file, max_file_bytes, request)
        else:
            fields += 1
            if fields > MAX_FIELDS:
                await discard_body(request)
                raise ApiError(400, f"a form of more than {MAX_FIELDS} fields is not taken")
            form.fields.setdefault(part.name, []).append(await _text(part, request))


async def _save(part: BodyPartReader, path: Path, limit: int, request: web.Request) -> None:
    size = 0
    async with aiofiles.open(path, "wb") as out:
        while chunk := await part.read_chunk(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                await discard_body(request)
                raise AudioTooLarge(size, limit)
            await out.write(chunk)


async def _text(part: BodyPartReader, request: web.Request) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK_BYTES):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            await discard_body(request)
            raise ApiError(400, f"the field {part.name} is too long", param=part.name)
    return data.decode(part.get_charset("utf-8"), "replace")


async def discard_body(request: web.Request) -> None:
    """Read what is left of the request's body, dropping it as it comes."""
    while await request.content.readany():
        pass
