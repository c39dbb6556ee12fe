"""One bot's voice session on the voice stand-in, and the websocket it is connected through:
what IDENTIFY, SELECT_PROTOCOL and IP discovery established (SSRC, key, DAVE group, the UDP
address its media socket sends from), and sending it numbered server messages (v8: every
message carries ``seq``, for buffered resume).

Limits: a message to a closed websocket is dropped, as Discord's would be lost.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.discord.voice_dave import DaveGroup
from tests.fakes.discord_payloads import Payload


@dataclass
class VoiceSession:
    """A voice session granted through VOICE_SERVER_UPDATE; its SSRC and key once identified.

    ``media_nonce`` counts the packets sent to it (the rtpsize nonce, unique per key)."""

    guild_id: str
    user_id: str
    session_id: str
    token: str
    channel_id: str | None = None
    ssrc: int | None = None
    secret_key: bytes | None = None
    sequence: int = 0
    dave: DaveGroup | None = None
    media_nonce: int = 0

    def numbered(self, op: int, data: Any) -> Payload:
        """A server message carrying the next sequence number (v8 buffered resume)."""
        self.sequence += 1
        return {"op": op, "d": data, "seq": self.sequence}

    def numbered_binary(self, op: int, body: bytes) -> bytes:
        """A binary server message: the next sequence number (2 bytes), the opcode, the body."""
        self.sequence += 1
        return (self.sequence % 65536).to_bytes(2, "big") + bytes([op]) + body

    def next_nonce(self) -> int:
        """The rtpsize nonce of the next packet sent to this session (mod 2**32)."""
        self.media_nonce = (self.media_nonce + 1) % 2**32
        return self.media_nonce


@dataclass(eq=False)
class VoiceConnection:
    """One voice websocket and the session it identified (or resumed) with."""

    ws: web.WebSocketResponse
    session: VoiceSession | None = None

    async def send(self, payload: Payload) -> None:
        """Send a JSON message (dropped if the websocket is gone)."""
        with contextlib.suppress(ConnectionError):
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(payload))

    async def send_numbered(self, op: int, data: Any) -> None:
        """Send op ``op`` with the session's next sequence number (identified sessions only)."""
        assert self.session is not None
        await self.send(self.session.numbered(op, data))

    async def send_binary(self, op: int, body: bytes) -> None:
        """Send a binary op with the session's next sequence number."""
        assert self.session is not None
        with contextlib.suppress(ConnectionError):
            if not self.ws.closed:
                await self.ws.send_bytes(self.session.numbered_binary(op, body))
