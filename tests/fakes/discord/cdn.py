"""Discord's CDN: attachment bytes at ``/attachments/{channel_id}/{attachment_id}/{filename}``,
stored when a test adds an attachment or the bot uploads one."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.address import Address
from tests.fakes.discord.recording import RecordedFile, RecordedRequest, Recorder, file_index
from tests.fakes.discord_payloads import Payload


class Cdn:
    """Stores attachment bytes under ids from ``ids`` and serves them at ``address``; every
    fetch is recorded in ``recorder``."""

    def __init__(self, ids: dp.SnowflakeFactory, address: Address, recorder: Recorder) -> None:
        self._ids = ids
        self._address = address
        self._recorder = recorder
        self._files: dict[tuple[int, int], tuple[str, str, bytes]] = {}

    def add_attachment(
        self,
        channel_id: int | str,
        filename: str,
        data: bytes,
        content_type: str,
        *,
        duration_secs: float | None = None,
        waveform: bytes | str | None = None,
    ) -> Payload:
        """Store ``data`` on the CDN and return its attachment payload.

        ``waveform`` may be raw bytes (base64-encoded here) or the base64 text Discord sends.
        """
        attachment = self.store_attachment(int(channel_id), filename, data, content_type)
        if duration_secs is not None:
            attachment["duration_secs"] = duration_secs
        if waveform is not None:
            attachment["waveform"] = (
                waveform if isinstance(waveform, str) else base64.b64encode(waveform).decode()
            )
        return attachment

    def store_uploads(
        self, channel_id: int, files: list[RecordedFile], metadata_by_id: Mapping[str, Payload]
    ) -> list[Payload]:
        """Put uploaded parts on the CDN as attachments, with their payload_json metadata.

        A part declared ``application/octet-stream`` gets a content type guessed from its
        filename, as Discord does.
        """
        attachments = []
        for position, upload in enumerate(files):
            content_type = upload.content_type
            if content_type == "application/octet-stream":
                content_type = mimetypes.guess_type(upload.filename)[0] or content_type
            attachment = self.store_attachment(
                channel_id, upload.filename, upload.data, content_type
            )
            metadata = metadata_by_id.get(str(file_index(upload, position)), {})
            for key in ("description", "duration_secs", "waveform", "title"):
                if metadata.get(key) is not None:
                    attachment[key] = metadata[key]
            attachments.append(attachment)
        return attachments

    def store_attachment(
        self, channel_id: int, filename: str, data: bytes, content_type: str
    ) -> Payload:
        attachment_id = self._ids.next()
        self._files[(channel_id, attachment_id)] = (filename, content_type, data)
        url = f"{self._address.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    async def handle(self, request: web.Request) -> web.Response:
        """Serve attachment bytes (GET or HEAD); recorded in ``requests`` under ``/attachments``."""
        recorded = RecordedRequest.of(request, request.path)
        key = (int(request.match_info["channel_id"]), int(request.match_info["attachment_id"]))
        stored = self._files.get(key)
        if stored is None or stored[0] != request.match_info["filename"]:
            recorded.status = 404
            response = web.Response(status=404, text="This content is no longer available.")
        else:
            _, content_type, data = stored
            recorded.status = 200
            response = web.Response(body=data, headers={"Content-Type": content_type})
        await self._recorder.record(recorded)
        return response
