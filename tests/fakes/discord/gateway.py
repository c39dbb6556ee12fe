"""Discord's gateway: a websocket speaking the JSON protocol (HELLO, IDENTIFY, READY,
GUILD_CREATE, heartbeats, RESUME, REQUEST_GUILD_MEMBERS, VOICE_STATE_UPDATE), and the sessions
through which the rest of the fake dispatches events, filtered by the intents each identified
with and routed by shard: a server's events go to the sessions of shard
`(server id >> 22) % shard count`, events of no server (DMs) to shard 0, as Discord routes
them. Several sessions may identify as one shard (a process replacing another); each gets the
shard's events."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fakes import discord_payloads as dp
from tests.fakes.discord_payloads import Payload

if TYPE_CHECKING:
    from tests.fakes.discord.address import Address
    from tests.fakes.discord.voice_states import VoiceStates
    from tests.fakes.discord.world import World

HEARTBEAT_INTERVAL_MS = 41250


@dataclass
class GatewaySession:
    """A gateway session: survives disconnections so that the bot can RESUME it."""

    session_id: str
    intents: int
    shard: tuple[int, int] = (0, 1)
    """The shard it identified as: (shard id, shard count)."""
    sequence: int = 0
    history: list[Payload] = field(default_factory=list)
    connection: GatewayConnection | None = None
    """Its live websocket; None while the bot is disconnected."""

    def receives(self, guild_id: int | str | None) -> bool:
        """Whether the events of `guild_id` (None: of no server) come to this session."""
        shard_id, shard_count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (int(guild_id) >> 22) % shard_count == shard_id

    def stamp(self, event: str, data: Any) -> Payload:
        """Number a dispatch and keep a snapshot of it for replay on RESUME."""
        self.sequence += 1
        payload = {"op": 0, "t": event, "s": self.sequence, "d": copy.deepcopy(data)}
        self.history.append(payload)
        return payload


class GatewayConnection:
    """One websocket; a single writer task sends its outbox in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.session: GatewaySession | None = None
        self._outbox: asyncio.Queue[Payload] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_all(), name="fake-discord-gateway-writer")

    def send(self, payload: Payload) -> None:
        """Queue ``payload`` behind everything queued before it."""
        self._outbox.put_nowait(payload)

    async def flush(self) -> None:
        """Wait until everything queued so far was written (or dropped by ``stop``)."""
        await self._outbox.join()

    async def stop(self) -> None:
        """Stop writing; unwritten payloads are dropped."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        while not self._outbox.empty():
            self._outbox.get_nowait()
            self._outbox.task_done()

    async def _write_all(self) -> None:
        while True:
            payload = await self._outbox.get()
            try:
                if not self.ws.closed:
                    await self.ws.send_str(json.dumps(payload))
            except ConnectionError:
                pass  # the peer went away; the session history still holds dispatches
            finally:
                self._outbox.task_done()


class Events:
    """The identified sessions, each with its live connection: where the fake's events go."""

    def __init__(self) -> None:
        self.sessions: list[GatewaySession] = []

    @property
    def session(self) -> GatewaySession | None:
        """The session identified last (the bot, in a test with one)."""
        return self.sessions[-1] if self.sessions else None

    @property
    def connection(self) -> GatewayConnection | None:
        """The live connection of the session identified last."""
        return self.session.connection if self.session is not None else None

    def emit(self, event: str, data: Any, intent: int | None = None) -> None:
        """Send a dispatch to each session of the shard it belongs to whose intents cover
        ``intent``.

        To a disconnected session the dispatch waits in its history for a RESUME.
        """
        guild_id = _guild_of(event, data)
        for session in self.sessions:
            if not session.receives(guild_id):
                continue
            if intent is not None and not session.intents & intent:
                continue
            payload = session.stamp(event, data)
            if session.connection is not None:
                session.connection.send(payload)

    async def dispatch(self, event: str, data: Payload) -> None:
        """Send a dispatch (op 0) to the bot as given, and wait until it is written."""
        if not self.sessions:
            raise RuntimeError("no bot has identified with the fake gateway")
        self.emit(event, data)
        for session in self.sessions:
            if session.connection is not None:
                await session.connection.flush()


def _guild_of(event: str, data: Any) -> int | str | None:
    """The server a dispatch is about (None: none, as for a DM)."""
    if not isinstance(data, dict):
        return None
    if event.startswith("GUILD_") and "guild_id" not in data:
        return data.get("id")  # GUILD_CREATE, GUILD_UPDATE, GUILD_DELETE
    return data.get("guild_id")


class Gateway:
    """Serves ``/gateway`` for ``world``, accepting ``token``.

    Attributes:
        received: every payload the bot sent over the gateway.
        enabled_privileged_intents: the privileged intents ticked on the developer portal;
            identifying with others is closed with 4014.
    """

    def __init__(
        self,
        token: str,
        address: Address,
        world: World,
        events: Events,
        voice_states: VoiceStates,
    ) -> None:
        self.received: list[Payload] = []
        self.enabled_privileged_intents = dp.PRIVILEGED_INTENTS
        self._token = token
        self._address = address
        self._world = world
        self._events = events
        self._voice_states = voice_states
        self._connections: set[GatewayConnection] = set()
        self._identified = asyncio.Event()
        self._sessions_changed = asyncio.Condition()
        self.refused = asyncio.Event()
        """Set when a connection was refused while the gateway was down."""
        self._down = False

    async def wait_until_identified(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the bot's connection has its READY and every GUILD_CREATE (or RESUMED)."""
        async with asyncio.timeout(timeout):
            await self._identified.wait()

    async def wait_for_sessions(self, count: int, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until `count` sessions (bots, or shards of one) are identified and connected."""

        def connected() -> bool:
            return sum(each.connection is not None for each in self._events.sessions) >= count

        async with asyncio.timeout(timeout), self._sessions_changed:
            await self._sessions_changed.wait_for(connected)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; the bot reconnects and RESUMEs (``wait_until_identified``)."""
        connection = self._events.connection
        if connection is None:
            raise RuntimeError("no bot is connected to the fake gateway")
        self._identified.clear()
        connection.send({"op": 7, "d": None, "s": None, "t": None})
        await connection.flush()

    @contextlib.asynccontextmanager
    async def down(self) -> AsyncIterator[None]:
        """Inside, the gateway is out, as in one of Discord's outages: the bot's connection is
        closed (1001) and every new one is refused with 503 before the websocket handshake.
        After, the bot may connect again, and RESUMEs (``wait_until_identified``)."""
        self._down = True
        self.refused.clear()
        self._identified.clear()
        try:
            await self.close()
            yield
        finally:
            self._down = False

    async def close(self) -> None:
        """Close every connection with 1001 (going away)."""
        for connection in list(self._connections):
            await connection.stop()
            await connection.ws.close(code=1001, message=b"fake discord shutting down")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            self.refused.set()
            return web.Response(status=503, text="upstream connect error")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = GatewayConnection(ws)
        self._connections.add(connection)
        connection.send(
            {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
        )
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                payload = json.loads(message.data)
                self.received.append(payload)
                await self._on_payload(connection, payload)
        finally:
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                self._identified.clear()
            await connection.stop()
            self._connections.discard(connection)
        return ws

    async def _on_payload(self, connection: GatewayConnection, payload: Payload) -> None:
        """Answer one client payload; close codes follow Discord's (4001, 4003-4005, 4014)."""
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op in (2, 6) and connection.session is not None:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
        elif op in (2, 6) and data.get("token") != self._token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
        elif op == 2 and int(data.get("intents", 0)) & ~self.enabled_privileged_intents & (
            dp.PRIVILEGED_INTENTS
        ):
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
        elif op == 2 and not _valid_shard(data.get("shard", [0, 1])):
            await connection.ws.close(code=4010, message=b"Invalid shard.")
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)
        elif connection.session is None:
            await connection.ws.close(code=4003, message=b"Not authenticated.")
        elif op == 8:
            self._send_member_chunk(data)
        elif op == 4:
            self._voice_states.on_bot_voice_state_update(data, connection.session)
        elif op != 3:
            await connection.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, connection: GatewayConnection, data: Payload) -> None:
        """Start a new session: READY, then a GUILD_CREATE per guild of its shard."""
        world = self._world
        shard_id, shard_count = data.get("shard", [0, 1])
        session = GatewaySession(
            secrets.token_hex(16),
            int(data.get("intents", 0)),
            (shard_id, shard_count),
            connection=connection,
        )
        self._events.sessions.append(session)
        connection.session = session
        guilds = [guild for guild in world.guilds.values() if session.receives(guild.payload["id"])]
        connection.send(
            session.stamp(
                "READY",
                {
                    "v": 10,
                    "user": {**world.bot_user, "verified": True, "mfa_enabled": False},
                    "guilds": [
                        {"id": guild.payload["id"], "unavailable": True} for guild in guilds
                    ],
                    "session_id": session.session_id,
                    "resume_gateway_url": self._address.gateway_url,
                    "application": {"id": str(world.application_id), "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                    "presences": [],
                    "guild_join_requests": [],
                    "geo_ordered_rtc_regions": [],
                    "user_settings": {},
                    "_trace": ["fake-discord"],
                    "shard": [shard_id, shard_count],
                },
            )
        )
        if session.intents & dp.INTENT_GUILDS:
            for guild in guilds:
                payload = {**world.guild_create(guild), "unavailable": False}
                connection.send(session.stamp("GUILD_CREATE", payload))
        await connection.flush()
        self._identified.set()
        async with self._sessions_changed:
            self._sessions_changed.notify_all()

    async def _resume(self, connection: GatewayConnection, data: Payload) -> None:
        """Replay what the bot missed and send RESUMED, or op 9 for an unknown session."""
        found = [
            each for each in self._events.sessions if each.session_id == data.get("session_id")
        ]
        if not found:
            connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        [session] = found
        session.connection, connection.session = connection, session
        last_seen = data.get("seq") or 0
        for payload in session.history:
            if payload["s"] > last_seen:
                connection.send(payload)
        connection.send(session.stamp("RESUMED", {"_trace": ["fake-discord"]}))
        await connection.flush()
        self._identified.set()

    def _send_member_chunk(self, data: Payload) -> None:
        """Answer op 8 REQUEST_GUILD_MEMBERS with one GUILD_MEMBERS_CHUNK."""
        guild = self._world.guild(data["guild_id"])
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(user_id) for user_id in data["user_ids"]}
            members = [m for m in members if int(m["user"]["id"]) in wanted]
        elif data.get("query"):
            members = [m for m in members if m["user"]["username"].startswith(data["query"])]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: Payload = {
            "guild_id": guild.payload["id"],
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        self._events.emit("GUILD_MEMBERS_CHUNK", chunk)


def _valid_shard(shard: Any) -> bool:
    """Whether IDENTIFY's `shard` is a [shard id, shard count] Discord accepts."""
    return (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(number, int) for number in shard)
        and 0 <= shard[0] < shard[1]
    )
