"""Discord's voice servers: the voice gateway (a websocket, protocol v8, over TLS as Discord's
``wss://`` endpoints are) and the media server (``voice_media``), both on 127.0.0.1.

The main gateway grants a bot a voice session (``grant``) and sends it this server's
``endpoint`` in VOICE_SERVER_UPDATE; the bot then speaks, in order: IDENTIFY (op 0) → READY
(op 2: SSRC, UDP address, modes) → UDP IP discovery → SELECT_PROTOCOL (op 1) →
SESSION_DESCRIPTION (op 4: mode and secret key) → SPEAKING (op 5) and RTP audio, with
HEARTBEAT (op 3) answered by HEARTBEAT_ACK (op 6) and RESUME (op 7) by RESUMED (op 9).

DAVE (end-to-end encryption) only with ``VoiceServer(dave=True)``, see ``voice_dave``: then
SESSION_DESCRIPTION selects protocol version 1, the MLS binary ops follow, and what the bot says
is decrypted with davey before it is decoded.  By default it says ``dave_protocol_version`` 0
and sends no MLS op, so discord.py sends frames with transport encryption only.

Members of the call speak to the bot too (``say``, ``send_datagram``, ``send_rtcp``: see
``voice_speakers``), and a bot session hears who joins and leaves its call (ops 11 and 13).

What the bot says is heard only while ``audible`` says so (FakeDiscord asks its voice states:
a member suppressed on a stage is not relayed, as on Discord); the rest is only counted
(``inaudible_packets``).

Limits: of the modes offered only
``aead_xchacha20_poly1305_rtpsize`` can be selected (another is closed with 4016); one voice
server for every guild.  The certificate (``loopback_tls/``, self-signed for 127.0.0.1) must be
trusted by the client: build it with ``connector=aiohttp.TCPConnector(ssl=client_ssl_context())``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import WSMsgType, web

from tests.fakes.discord.voice_dave import (
    EXTERNAL_SENDER_PACKAGE,
    KEY_PACKAGE,
    PROTOCOL_VERSION,
    TRANSITION_ID,
    WELCOME,
    DaveGroup,
)
from tests.fakes.discord.voice_media import Heard, Listening, VoiceUdp, open_voice_udp
from tests.fakes.discord.voice_session import VoiceConnection, VoiceSession
from tests.fakes.discord.voice_speakers import Speakers
from tests.fakes.discord_payloads import Payload

HEARTBEAT_INTERVAL = 13_750
"""Milliseconds; Discord's voice servers ask for about this (discord.py caps it at 5 s)."""
SELECTABLE_MODE = "aead_xchacha20_poly1305_rtpsize"
OFFERED_MODES = ["aead_aes256_gcm_rtpsize", SELECTABLE_MODE]
"""Discord's two current transport modes, in the order it lists them."""
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_SESSION_NO_LONGER_VALID = 4006
CLOSE_UNKNOWN_ENCRYPTION_MODE = 4016
_TLS = Path(__file__).with_name("loopback_tls")


def client_ssl_context() -> ssl.SSLContext:
    """An SSL context that trusts the voice server's loopback certificate (and only it)."""
    return ssl.create_default_context(cafile=_TLS / "cert.pem")


@dataclass
class Speaking:
    """A SPEAKING op (5) as received: flags 0 is "stopped speaking"."""

    user_id: str
    ssrc: int
    speaking: int


class VoiceServer:
    """The voice gateway and media server for every guild of one ``FakeDiscord``.

    Attributes:
        dave: whether sessions identified from now on negotiate DAVE (``voice_dave``).
        received: every payload a client sent over a voice websocket, oldest first.
        speaking: every SPEAKING op received, oldest first.
        identifies, resumes: how many IDENTIFY and RESUME ops were accepted.
        audible: whether what a member (guild id, user id) says reaches the call right now;
            everyone by default.
        listening: how the media socket handles packets (``voice_media.Listening``: a callback
            per packet, decoding on or off), applied from the next packet.
        speakers: the members who speak to the bot (``voice_speakers.Speakers``); ``say``,
            ``send_datagram`` and ``send_rtcp`` are its methods.
    """

    def __init__(self, *, dave: bool = False) -> None:
        self.dave = dave
        self.received: list[Payload] = []
        self.speaking: list[Speaking] = []
        self.identifies = 0
        self.resumes = 0
        self.audible: Callable[[str, str], bool] = lambda _guild_id, _user_id: True
        self.listening = Listening()
        self._sessions: dict[str, VoiceSession] = {}
        self._keys: dict[int, bytes] = {}
        self._frame_decryptors: dict[int, Callable[[bytes], bytes]] = {}
        self._ssrcs = itertools.count(1001)
        self._ssrc_owners: dict[int, VoiceSession] = {}
        self._connections: set[VoiceConnection] = set()
        self._changed = asyncio.Event()
        self._udp: VoiceUdp | None = None
        self._udp_port = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.speakers = Speakers(self._connections, self._ssrcs, lambda: self._udp, self.wait_for)
        self.say = self.speakers.say
        self.send_datagram = self.speakers.send_datagram
        self.send_rtcp = self.speakers.send_rtcp

    async def start(self) -> None:
        """Listen on 127.0.0.1: the websocket (TLS) and the UDP media socket, free ports."""
        self._udp, self._udp_port = await open_voice_udp(
            self._keys, self._frame_decryptors, self._relayed, self._notify, self.listening
        )
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(_TLS / "cert.pem", _TLS / "key.pem")
        app = web.Application()
        app.router.add_get("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_tls).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Close every voice websocket (1001) and stop serving."""
        await self.close_connections(1001)
        await self.speakers.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, as VOICE_SERVER_UPDATE carries it (discord.py adds ``wss://``)."""
        return f"127.0.0.1:{self._port}"

    def grant(
        self, guild_id: str, user_id: str, session_id: str, channel_id: str | None = None
    ) -> str:
        """Open a voice session for ``user_id`` in ``guild_id``; the token to identify with.
        DAVE needs the ``channel_id`` (its MLS group's ID)."""
        token = secrets.token_hex(8)
        self._sessions[token] = VoiceSession(guild_id, user_id, session_id, token, channel_id)
        return token

    # -- what was heard ---------------------------------------------------------------------

    def heard_from(self, user_id: int | str) -> list[Heard]:
        """What ``user_id`` was heard saying, per SSRC (one per voice connection), oldest first."""
        heard = self._udp.heard.values() if self._udp is not None else ()
        return [h for h in heard if self._owner(h.ssrc) == str(user_id)]

    def inaudible_packets(self, user_id: int | str) -> int:
        """How many packets ``user_id`` sent while not ``audible`` (not relayed, not decoded)."""
        udp = self._udp
        counts = udp.inaudible.items() if udp is not None else ()
        return sum(count for ssrc, count in counts if self._owner(ssrc) == str(user_id))

    def guild_of(self, ssrc: int) -> str | None:
        """The guild whose voice session was given ``ssrc``, if one was."""
        return next((s.guild_id for s in self._sessions.values() if s.ssrc == ssrc), None)

    def connected(self, guild_id: str, user_id: str) -> bool:
        """Whether ``user_id`` has a voice session in ``guild_id`` on an open websocket."""
        return any(
            connection.session is not None
            and (connection.session.guild_id, connection.session.user_id) == (guild_id, user_id)
            and not connection.ws.closed
            for connection in self._connections
        )

    def dave_group(self, user_id: int | str) -> DaveGroup | None:
        """The DAVE group of the latest session granted to ``user_id`` that negotiated DAVE."""
        groups = [
            session.dave
            for session in self._sessions.values()
            if session.user_id == str(user_id) and session.dave is not None
        ]
        return groups[-1] if groups else None

    async def wait_for_packets(
        self,
        user_id: int | str,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``count`` packets from ``user_id`` were decoded (packets arrive a little
        after ``play``'s ``after`` callback, on the event loop)."""
        await self.wait_for(
            lambda: sum(heard.packets for heard in self.heard_from(user_id)) >= count, timeout
        )

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``predicate()`` is true; it is checked after each payload and datagram."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def _owner(self, ssrc: int) -> str | None:
        session = self._ssrc_owners.get(ssrc)
        return session.user_id if session is not None else None

    def _relayed(self, ssrc: int) -> bool:
        """Whether the audio of ``ssrc`` reaches the call now (see ``audible``)."""
        session = self._ssrc_owners.get(ssrc)
        return session is None or self.audible(session.guild_id, session.user_id)

    def _notify(self) -> None:
        """Wake every ``wait_for``: something was received."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def close_connections(self, code: int) -> None:
        """Close every voice websocket with ``code`` (4015: "voice server crashed", resumable;
        4014: disconnected; 1001: going away)."""
        for connection in list(self._connections):
            await connection.ws.close(code=code, message=b"fake voice server")

    # -- the voice gateway --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("v") != "8":
            await ws.close(code=4012, message=b"Unknown protocol.")
            return ws
        connection = VoiceConnection(ws)
        self._connections.add(connection)
        try:
            await connection.send({"op": 8, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL}})
            async for message in ws:
                if message.type is WSMsgType.BINARY:
                    await self._on_binary(connection, message.data)
                elif message.type is WSMsgType.TEXT:
                    payload = json.loads(message.data)
                    self.received.append(payload)
                    await self._on_payload(connection, payload)
                else:
                    await ws.close(code=4002, message=b"Failed to decode payload.")
                    break
                self._notify()
        finally:
            self._connections.discard(connection)
        return ws

    async def _on_payload(self, connection: VoiceConnection, payload: Payload) -> None:
        op, data = payload.get("op"), payload.get("d") or {}
        session = connection.session
        if op == 3:
            await connection.send({"op": 6, "d": {"t": data.get("t")}})
        elif op == 0:
            await self._identify(connection, data)
        elif op == 7:
            await self._resume(connection, data)
        elif session is None:
            await connection.ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
        elif op == 1:
            await self._select_protocol(connection, session, data)
        elif op == 5:
            speaking = Speaking(session.user_id, int(data["ssrc"]), int(data["speaking"]))
            self.speaking.append(speaking)
        elif op == 23:
            await self._ready_for_transition(connection, session, data)
        elif op != 12:
            await connection.ws.close(code=CLOSE_UNKNOWN_OPCODE, message=b"Unknown opcode.")

    async def _identify(self, connection: VoiceConnection, data: Payload) -> None:
        session = self._sessions.get(str(data.get("token")))
        if session is None or (
            str(data.get("server_id")),
            str(data.get("user_id")),
            data.get("session_id"),
        ) != (session.guild_id, session.user_id, session.session_id):
            await connection.ws.close(
                code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed."
            )
            return
        self.identifies += 1
        connection.session = session
        session.ssrc = next(self._ssrcs)
        self._ssrc_owners[session.ssrc] = session
        ready = {"ssrc": session.ssrc, "ip": "127.0.0.1", "port": self._udp_port}
        await connection.send(session.numbered(2, {**ready, "modes": OFFERED_MODES}))

    async def _resume(self, connection: VoiceConnection, data: Payload) -> None:
        session = self._sessions.get(str(data.get("token")))
        if session is None or session.ssrc is None or data.get("session_id") != session.session_id:
            await connection.ws.close(
                code=CLOSE_SESSION_NO_LONGER_VALID, message=b"Session no longer valid."
            )
            return
        self.resumes += 1
        connection.session = session
        await connection.send(session.numbered(9, None))

    async def _select_protocol(
        self, connection: VoiceConnection, session: VoiceSession, data: Payload
    ) -> None:
        mode = (data.get("data") or {}).get("mode")
        if data.get("protocol") != "udp" or mode != SELECTABLE_MODE or session.ssrc is None:
            await connection.ws.close(
                code=CLOSE_UNKNOWN_ENCRYPTION_MODE, message=b"Unknown encryption mode."
            )
            return
        session.secret_key = secrets.token_bytes(32)
        self._keys[session.ssrc] = session.secret_key
        description = {
            "mode": mode,
            "secret_key": list(session.secret_key),
            "audio_codec": "opus",
            "video_codec": "H264",
            "media_session_id": secrets.token_hex(16),
            "dave_protocol_version": 0,
        }
        if self.dave and session.channel_id is not None:
            speakers = self.speakers.others_in(
                session.guild_id, session.channel_id, session.user_id
            )
            session.dave = DaveGroup(int(session.channel_id), map(int, speakers))
            self._frame_decryptors[session.ssrc] = functools.partial(
                session.dave.decrypt, int(session.user_id)
            )
            description["dave_protocol_version"] = PROTOCOL_VERSION
        await connection.send(session.numbered(4, description))
        if session.dave is not None:
            package = session.dave.external_sender.package()
            await connection.send_binary(EXTERNAL_SENDER_PACKAGE, package)
        await self.speakers.session_described(connection)

    async def _on_binary(self, connection: VoiceConnection, message: bytes) -> None:
        """A client's binary op: its opcode byte, then the body (no sequence number).  Only a
        key package (op 26) of a DAVE session is answered, with the welcome (op 30)."""
        session = connection.session
        if session is None or session.dave is None or not message:
            await connection.ws.close(code=CLOSE_UNKNOWN_OPCODE, message=b"Unknown opcode.")
            return
        if message[0] == KEY_PACKAGE:
            welcome = session.dave.welcome(message[1:])
            body = TRANSITION_ID.to_bytes(2, "big") + welcome
            await connection.send_binary(WELCOME, body)

    async def _ready_for_transition(
        self, connection: VoiceConnection, session: VoiceSession, data: Payload
    ) -> None:
        """Op 23: the bot is ready for a transition of its group (its welcome, or a member
        added later), so the transition is executed (op 22)."""
        transition_id = data.get("transition_id")
        if session.dave is not None and session.dave.announced(transition_id):
            session.dave.ready_transitions.add(transition_id)
            await connection.send(session.numbered(22, {"transition_id": transition_id}))
