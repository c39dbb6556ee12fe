"""A loopback stand-in of Discord (REST API v10, gateway and CDN) for tests of the real discord.py.

``FakeDiscord`` serves, on 127.0.0.1 and an ephemeral port:

* ``/api/v10/...``: the REST routes a bot uses, with Discord's validation, permission checks and
  error bodies.  Every request is recorded (``FakeDiscord.requests``) together with the status
  it got, so tests assert on what the bot asked for.  Unknown routes answer 404 and are
  recorded too.  Faults can be queued with ``fail_next``.
* ``/gateway``: a websocket speaking the JSON gateway protocol (HELLO, IDENTIFY, READY,
  GUILD_CREATE, heartbeats, RESUME).  Changes the bot causes through REST (messages, edits,
  reactions, threads) come back as gateway events, as on Discord, filtered by the intents the
  bot identified with; tests push their own events with ``dispatch``.
* ``/attachments/...``: a CDN serving the bytes of attachments.

The world (guilds, channels, users, members, messages) is held as plain payload dicts shaped
like Discord's; see ``tests.fakes.discord_payloads`` for the builders and constants.

A test points discord.py here with ``patch_discord(monkeypatch)`` and runs a real bot::

    async with serve_fake_discord(monkeypatch) as fake:
        guild = fake.add_guild()
        channel = fake.add_text_channel(guild["id"])
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        async with running_bot(fake, bot):
            ...

``guild_ready_timeout`` matters: discord.py waits that long after the *last* GUILD_CREATE before
it fires ``on_ready`` (2 s by default), however quickly the guilds arrive.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import discord.gateway
import discord.http
import yarl
from aiohttp import BodyPartReader, WSMsgType, web
from multidict import CIMultiDict

from tests.fakes import discord_payloads as dp
from tests.fakes.discord_payloads import Payload

if TYPE_CHECKING:
    import pytest

API_PREFIX = "/api/v10"
HEARTBEAT_INTERVAL_MS = 41250
MAX_CONTENT_LENGTH = 2000
MAX_EMBEDS = 10
MAX_AUTOCOMPLETE_CHOICES = 25
MAX_USER_APP_FOLLOWUPS = 5

_SENDABLE_MESSAGE_FLAGS = (
    dp.FLAG_SUPPRESS_EMBEDS
    | dp.FLAG_EPHEMERAL
    | dp.FLAG_SUPPRESS_NOTIFICATIONS
    | dp.FLAG_IS_VOICE_MESSAGE
    | dp.FLAG_IS_COMPONENTS_V2
)
"""Flags a sender may set on a message; the others are Discord's to set."""

_CALLBACK_TYPES_BY_INTERACTION = {
    dp.INTERACTION_PING: frozenset({1}),
    dp.INTERACTION_APPLICATION_COMMAND: frozenset({4, 5, 9}),
    dp.INTERACTION_MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    dp.INTERACTION_AUTOCOMPLETE: frozenset({8}),
    dp.INTERACTION_MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}
"""Interaction callback types Discord accepts for each interaction type."""

_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")
_USER_MENTION = re.compile(r"<@!?(\d+)>")

OptionValue = str | int | float | bool


@dataclass(frozen=True)
class RecordedFile:
    """One file part of a multipart request, as the bot uploaded it."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One REST request the fake received, and what it answered.

    ``path`` has no ``/api/v10`` prefix and is percent-decoded (a reaction's emoji is readable);
    CDN fetches keep their ``/attachments/...`` path.  ``json`` is the parsed JSON body, or the
    ``payload_json`` part of a multipart body.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    headers: CIMultiDict[str]
    status: int = 0
    response: Any = None


class ApiError(Exception):
    """An error answer in Discord's shape: ``{"code", "message"[, "errors"]}``."""

    def __init__(self, status: int, code: int, message: str, errors: Payload | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body: Payload = {"code": code, "message": message}
        if errors is not None:
            self.body["errors"] = errors


def _invalid_form_body(path: Iterable[str | int], code: str, message: str) -> ApiError:
    """Build Discord's 50035 error pointing at the field at ``path``."""
    errors: Payload = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(list(path)):
        errors = {str(key): errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def _unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def _missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


@dataclass
class _Fault:
    method: str
    path_pattern: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int


@dataclass
class Hold:
    """The answer to the next request matching ``method`` and ``path_pattern`` held back
    (``FakeDiscord.hold``): ``arrived`` is set once the request was acted on and its answer
    waits; ``release()`` sends it."""

    method: str
    path_pattern: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    authenticated: bool = True

    @property
    def bucket(self) -> str:
        """A stable rate-limit bucket hash per route, like ``X-RateLimit-Bucket``."""
        return hashlib.sha1(f"{self.method} {self.pattern.pattern}".encode()).hexdigest()[:16]


@dataclass
class _Guild:
    payload: Payload
    members: dict[int, Payload]
    channel_ids: list[int]
    bot_role_id: int


@dataclass
class _Interaction:
    """What Discord remembers about an interaction token it issued."""

    payload: Payload
    response_type: int | None = None
    original_id: int | None = None
    thinking: bool = False
    message_ids: set[int] = field(default_factory=set)
    followups: int = 0

    @property
    def followups_capped(self) -> bool:
        """Discord allows 5 followups to a user-installed app, wherever it is used; only an app
        installed to the server (integration owner "0": the guild, or "0" in the bot's DM) is
        unaffected."""
        owners = self.payload.get("authorizing_integration_owners") or {}
        return "0" not in owners

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])

    @property
    def user(self) -> Payload:
        return self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]


@dataclass
class _GatewaySession:
    """A gateway session: survives disconnections so that the bot can RESUME it."""

    session_id: str
    intents: int
    sequence: int = 0
    history: list[Payload] = field(default_factory=list)

    def stamp(self, event: str, data: Any) -> Payload:
        """Number a dispatch and keep a snapshot of it for replay on RESUME."""
        self.sequence += 1
        payload = {"op": 0, "t": event, "s": self.sequence, "d": copy.deepcopy(data)}
        self.history.append(payload)
        return payload


class _GatewayConnection:
    """One websocket; a single writer task sends its outbox in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.session: _GatewaySession | None = None
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


def _json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Answer with ``Content-Type: application/json`` exactly, as discord.py requires."""
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _rate_limit_headers(
    bucket: str, *, remaining: int = 4, reset_after: float = 1.0
) -> dict[str, str]:
    """Headers discord.py's limiter reads; ``Via`` is what makes it trust a 429 and retry."""
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "Via": "1.1 google",
    }


def _option(name: str, value: OptionValue, *, focused: bool = False) -> Payload:
    """Build a command option, typed by the Python type of ``value``."""
    if isinstance(value, bool):
        option_type = dp.OPTION_BOOLEAN
    elif isinstance(value, int):
        option_type = dp.OPTION_INTEGER
    elif isinstance(value, float):
        option_type = dp.OPTION_NUMBER
    elif isinstance(value, str):
        option_type = dp.OPTION_STRING
    else:
        raise TypeError(f"option {name!r}: unsupported value {value!r}")
    option: Payload = {"name": name, "type": option_type, "value": value}
    if focused:
        option["focused"] = True
    return option


def _nest_options(name: str, leaf_options: list[Payload]) -> tuple[str, list[Payload]]:
    """Split ``"cmd sub"`` or ``"cmd group sub"`` into ``cmd`` and the nested options."""
    top, *path = name.split()
    if len(path) > 2:
        raise ValueError(f"{name!r}: a command nests at most a group and a subcommand")
    options = leaf_options
    for depth, part in reversed(list(enumerate(path))):
        is_group = depth == 0 and len(path) == 2
        option_type = dp.OPTION_SUB_COMMAND_GROUP if is_group else dp.OPTION_SUB_COMMAND
        options = [{"name": part, "type": option_type, "options": options}]
    return top, options


def _file_index(recorded: RecordedFile, position: int) -> int:
    """The ``n`` of a ``files[n]`` part; other part names count by position."""
    match = re.fullmatch(r"files\[(\d+)\]", recorded.field)
    return int(match.group(1)) if match else position


class FakeDiscord:
    """Serves Discord's REST API (/api/v10), a gateway websocket and a CDN on 127.0.0.1.

    Construct, ``await start()``, populate the world with the ``add_*`` methods (before the bot
    connects, or after: later changes are announced over the gateway), and ``await close()``.
    The @everyone role of every guild has no permissions, so the bot's own managed role
    (``set_bot_permissions``) alone decides what the bot may do.

    Attributes:
        token: the bot token the fake accepts (``Authorization: Bot fake-token``).
        application_id: the application's id, which is also the bot user's id.
        bot_user, owner_user: user payloads of the bot and of the application's owner.
        users, channels, messages: every known user, channel (threads and DMs included) and
            message (ephemeral ones included) by integer id, as live payloads.
        requests: the REST traffic, oldest first, and CDN fetches (paths ``/attachments/...``).
        gateway_received: every payload the bot sent over the gateway.
        internal_errors: exceptions that crashed a request handler of the fake.
        enabled_privileged_intents: the privileged intents ticked on the developer portal (all
            of them unless a test says otherwise); identifying with others is closed with 4014.
    """

    token = "fake-token"

    def __init__(self) -> None:
        self._ids = dp.SnowflakeFactory()
        self.application_id: int = self._ids.next()
        self.bot_user: Payload = dp.user_payload(self.application_id, "earshot", bot=True)
        self.owner_user: Payload = dp.user_payload(self._ids.next(), "app-owner")
        self.users: dict[int, Payload] = {
            int(user["id"]): user for user in (self.bot_user, self.owner_user)
        }
        self._guilds: dict[int, _Guild] = {}
        self.channels: dict[int, Payload] = {}
        self.messages: dict[int, Payload] = {}
        self.requests: list[RecordedRequest] = []
        self.gateway_received: list[Payload] = []
        self.internal_errors: list[Exception] = []
        self.enabled_privileged_intents = dp.PRIVILEGED_INTENTS
        self._dm_channel_by_user: dict[int, int] = {}
        self._cdn: dict[tuple[int, int], tuple[str, str, bytes]] = {}
        self._commands: dict[int | None, list[Payload]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._interactions: dict[str, _Interaction] = {}
        self._faults: list[_Fault] = []
        self._stalls: list[tuple[str, str, float]] = []
        self._holds: list[Hold] = []
        self._recorded = asyncio.Condition()
        self._session: _GatewaySession | None = None
        self._connection: _GatewayConnection | None = None
        self._connections: set[_GatewayConnection] = set()
        self._identified = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._build_routes()

    # -- lifecycle and addresses ------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get(
            "/attachments/{channel_id:\\d+}/{attachment_id:\\d+}/{filename}", self._handle_cdn
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Close gateway connections (code 1001) and stop serving; close the bot first.

        Raises ``RuntimeError`` if a request crashed the fake (see ``internal_errors``).
        """
        for connection in list(self._connections):
            await connection.stop()
            await connection.ws.close(code=1001, message=b"fake discord shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.internal_errors:
            raise RuntimeError("requests crashed FakeDiscord") from self.internal_errors[0]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, where the CDN lives."""
        if self._port is None:
            raise RuntimeError("FakeDiscord.start() has not run")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway address (without query; discord.py appends ``?v=10&encoding=json...``)."""
        return "ws" + self.base_url.removeprefix("http") + "/gateway"

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py's REST base (a str) and default gateway (a ``yarl.URL``) here."""
        monkeypatch.setattr(discord.http.Route, "BASE", self.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url)
        )

    # -- world state --------------------------------------------------------------------------

    def add_user(self, *, username: str, bot: bool = False) -> Payload:
        """Create a user; it can then join guilds (``add_member``) or DM the bot."""
        user = dp.user_payload(self._ids.next(), username, bot=bot)
        self.users[int(user["id"])] = user
        return user

    def add_guild(self, *, name: str = "Test Guild", owner_id: int | str | None = None) -> Payload:
        """Create a guild the bot is in, and return its payload (``roles`` is kept live).

        The guild gets an @everyone role without permissions, the bot's managed role with
        ``DEFAULT_BOT_PERMISSIONS``, and members for the bot and the owner (by default the
        application's owner).  Announced with GUILD_CREATE if a bot is connected.
        """
        guild_id = self._ids.next()
        owner = self.users[int(owner_id)] if owner_id is not None else self.owner_user
        bot_role = dp.role_payload(
            self._ids.next(),
            self.bot_user["username"],
            dp.DEFAULT_BOT_PERMISSIONS,
            position=1,
            bot_id=self.application_id,
        )
        payload: Payload = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "roles": [dp.role_payload(guild_id, "@everyone", 0), bot_role],
            "emojis": [],
            "stickers": [],
        }
        guild = _Guild(payload, members={}, channel_ids=[], bot_role_id=int(bot_role["id"]))
        self._guilds[guild_id] = guild
        guild.members[self.application_id] = dp.member_payload(self.bot_user, [bot_role["id"]])
        guild.members[int(owner["id"])] = dp.member_payload(owner)
        self._emit("GUILD_CREATE", self._guild_create(guild), dp.INTENT_GUILDS)
        return payload

    def add_role(self, guild_id: int | str, *, name: str, permissions: int = 0) -> Payload:
        """Create a role in a guild (announced with GUILD_ROLE_CREATE)."""
        guild = self._guild(guild_id)
        role = dp.role_payload(
            self._ids.next(), name, permissions, position=len(guild.payload["roles"])
        )
        guild.payload["roles"].append(role)
        self._emit(
            "GUILD_ROLE_CREATE", {"guild_id": guild.payload["id"], "role": role}, dp.INTENT_GUILDS
        )
        return role

    def bot_role(self, guild_id: int | str) -> Payload:
        """The bot's managed role in a guild."""
        guild = self._guild(guild_id)
        return self._role(guild, guild.bot_role_id)

    def set_bot_permissions(self, guild_id: int | str, permissions: int) -> None:
        """Give the bot's managed role exactly ``permissions``.

        The fake enforces the change at once; a connected bot learns it from a queued
        GUILD_ROLE_UPDATE, delivered before any event dispatched later.
        """
        guild = self._guild(guild_id)
        role = self._role(guild, guild.bot_role_id)
        role["permissions"] = str(permissions)
        self._emit(
            "GUILD_ROLE_UPDATE", {"guild_id": guild.payload["id"], "role": role}, dp.INTENT_GUILDS
        )

    def add_member(
        self,
        guild_id: int | str,
        user: Payload,
        *,
        roles: Iterable[int | str] = (),
        permissions: int | None = None,
    ) -> Payload:
        """Make ``user`` a member holding ``roles``, plus a new role granting ``permissions``.

        Announced with GUILD_MEMBER_ADD if the bot asked for the GUILD_MEMBERS intent.
        """
        guild = self._guild(guild_id)
        role_ids = [str(role_id) for role_id in roles]
        if permissions is not None:
            role_ids.append(
                self.add_role(guild_id, name=user["username"], permissions=permissions)["id"]
            )
        member = dp.member_payload(user, role_ids)
        self.users.setdefault(int(user["id"]), user)
        guild.members[int(user["id"])] = member
        self._emit(
            "GUILD_MEMBER_ADD", {**member, "guild_id": guild.payload["id"]}, dp.INTENT_GUILD_MEMBERS
        )
        return member

    def add_text_channel(
        self,
        guild_id: int | str,
        *,
        name: str = "general",
        permission_overwrites: Iterable[Mapping[str, Any]] = (),
    ) -> Payload:
        """Create a text channel (announced with CHANNEL_CREATE).

        ``permission_overwrites`` are Discord overwrite objects; ``discord_payloads.overwrite``
        builds them.
        """
        guild = self._guild(guild_id)
        channel = dp.text_channel_payload(
            self._ids.next(),
            int(guild.payload["id"]),
            name,
            position=len(guild.channel_ids),
            permission_overwrites=permission_overwrites,
        )
        self._add_guild_channel(guild, channel)
        self._emit("CHANNEL_CREATE", channel, dp.INTENT_GUILDS)
        return channel

    def add_dm_channel(self, user: Payload) -> Payload:
        """Return the DM channel between the bot and ``user``, creating it on first use."""
        existing = self._dm_channel_by_user.get(int(user["id"]))
        if existing is not None:
            return self.channels[existing]
        self.users.setdefault(int(user["id"]), user)
        channel = dp.dm_channel_payload(self._ids.next(), user)
        self.channels[int(channel["id"])] = channel
        self._dm_channel_by_user[int(user["id"])] = int(channel["id"])
        return channel

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
        attachment = self._store_attachment(int(channel_id), filename, data, content_type)
        if duration_secs is not None:
            attachment["duration_secs"] = duration_secs
        if waveform is not None:
            attachment["waveform"] = (
                waveform if isinstance(waveform, str) else base64.b64encode(waveform).decode()
            )
        return attachment

    def make_message(
        self,
        channel_id: int | str,
        author: Payload,
        *,
        content: str = "",
        attachments: Iterable[Payload] = (),
        voice: bool = False,
        guild_id: int | str | None = None,
    ) -> Payload:
        """Store and return a message as MESSAGE_CREATE carries it (no event is sent).

        ``voice=True`` sets IS_VOICE_MESSAGE and requires a single attachment with
        ``duration_secs`` and ``waveform``.  In a guild the payload has the author's ``member``.
        """
        channel = self._channel(channel_id)
        attachments = list(attachments)
        if voice and (
            len(attachments) != 1
            or "duration_secs" not in attachments[0]
            or "waveform" not in attachments[0]
        ):
            raise ValueError("a voice message needs one attachment with duration_secs and waveform")
        guild_id = guild_id if guild_id is not None else channel.get("guild_id")
        message = dp.message_payload(
            self._ids.next(),
            channel["id"],
            author,
            content=content,
            guild_id=guild_id,
            attachments=attachments,
            flags=dp.FLAG_IS_VOICE_MESSAGE if voice else 0,
            mentions=self._mentioned_users(content),
        )
        self._add_author_member(message)
        self._store_message(message)
        return message

    async def edit_message_as_author(
        self, message_id: int | str, *, attachment_ids: Iterable[int | str]
    ) -> Payload:
        """The author edits their message, keeping only the attachments in ``attachment_ids``
        (the client's "remove attachment"); MESSAGE_UPDATE carries the whole edited message,
        as Discord sends it.  Voice messages cannot be edited (as on Discord)."""
        message = self.messages[int(message_id)]
        if message["flags"] & dp.FLAG_IS_VOICE_MESSAGE:
            raise ValueError("voice messages cannot be edited")
        kept = {str(attachment_id) for attachment_id in attachment_ids}
        message["attachments"] = [a for a in message["attachments"] if a["id"] in kept]
        if not (message["content"] or message["attachments"]):
            raise ValueError("an edit cannot leave the message empty")
        message["edited_timestamp"] = dp.iso_now()
        await self.dispatch("MESSAGE_UPDATE", message)
        return message

    def forward_message(self, channel_id: int | str, author: Payload, original: Payload) -> Payload:
        """Store and return the message ``author`` posts in ``channel_id`` by forwarding
        ``original`` (see ``discord_payloads.forward_payload``); no event is sent."""
        channel = self._channel(channel_id)
        message = dp.forward_payload(
            self._ids.next(), channel["id"], author, original, guild_id=channel.get("guild_id")
        )
        self._add_author_member(message)
        self._store_message(message)
        return message

    # -- gateway ------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: Payload) -> None:
        """Send a dispatch (op 0) to the bot as given, and wait until it is written."""
        if self._session is None:
            raise RuntimeError("no bot has identified with the fake gateway")
        self._emit(event, data)
        if self._connection is not None:
            await self._connection.flush()

    async def wait_until_identified(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the bot's connection has its READY and every GUILD_CREATE (or RESUMED)."""
        async with asyncio.timeout(timeout):
            await self._identified.wait()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; the bot reconnects and RESUMEs (``wait_until_identified``)."""
        if self._connection is None:
            raise RuntimeError("no bot is connected to the fake gateway")
        self._identified.clear()
        self._connection.send({"op": 7, "d": None, "s": None, "t": None})
        await self._connection.flush()

    # -- interactions -------------------------------------------------------------------------

    def slash_command(
        self,
        name: str,
        *,
        user: Payload,
        channel: Payload,
        guild_id: int | str | None = None,
        options: Mapping[str, OptionValue] | None = None,
        attachments: Mapping[str, Payload] | None = None,
        channels: Mapping[str, Payload] | None = None,
        command_guild_id: int | str | None = None,
    ) -> Payload:
        """Build a chat-input command interaction (type 2, data.type 1) and issue its token.

        ``name`` may name a subcommand: ``"cmd sub"`` or ``"cmd group sub"``.  ``options``
        map names to str/int/float/bool values (typed STRING/INTEGER/NUMBER/BOOLEAN);
        ``attachments`` and ``channels`` map names to attachment or channel payloads, sent as
        option values (ids) with ``data.resolved.attachments`` or ``data.resolved.channels``
        (a channel carrying the user's ``permissions`` in it, as Discord resolves it).
        ``data.id``/``data.guild_id`` come from the synced commands (guild scope first);
        ``command_guild_id`` forces a guild scope for commands that were never synced.
        """
        leaf = [_option(option, value) for option, value in (options or {}).items()]
        leaf += [
            {"name": option, "type": dp.OPTION_ATTACHMENT, "value": attachment["id"]}
            for option, attachment in (attachments or {}).items()
        ]
        leaf += [
            {"name": option, "type": dp.OPTION_CHANNEL, "value": chosen["id"]}
            for option, chosen in (channels or {}).items()
        ]
        top, nested = _nest_options(name, leaf)
        data = self._command_data(top, dp.COMMAND_CHAT_INPUT, channel, guild_id, command_guild_id)
        data["options"] = nested
        resolved: Payload = {}
        if attachments:
            resolved["attachments"] = {a["id"]: a for a in attachments.values()}
        if channels:
            resolved["channels"] = {
                chosen["id"]: {
                    **chosen,
                    "permissions": str(self.permissions_in(chosen, user["id"])),
                }
                for chosen in channels.values()
            }
        if resolved:
            data["resolved"] = resolved
        return self._new_interaction(
            dp.INTERACTION_APPLICATION_COMMAND, data, user=user, channel=channel, guild_id=guild_id
        )

    def message_command(
        self,
        name: str,
        *,
        user: Payload,
        channel: Payload,
        message: Payload,
        guild_id: int | str | None = None,
        command_guild_id: int | str | None = None,
    ) -> Payload:
        """Build a message context-menu interaction (type 2, data.type 3) on ``message``."""
        data = self._command_data(name, dp.COMMAND_MESSAGE, channel, guild_id, command_guild_id)
        data["target_id"] = message["id"]
        data["resolved"] = {"messages": {message["id"]: message}}
        return self._new_interaction(
            dp.INTERACTION_APPLICATION_COMMAND, data, user=user, channel=channel, guild_id=guild_id
        )

    def autocomplete(
        self,
        name: str,
        *,
        user: Payload,
        channel: Payload,
        focused_option: str,
        value: OptionValue,
        guild_id: int | str | None = None,
        options: Mapping[str, OptionValue] | None = None,
        command_guild_id: int | str | None = None,
    ) -> Payload:
        """Build an autocomplete interaction (type 4): ``focused_option`` is being typed."""
        leaf = [_option(option, filled) for option, filled in (options or {}).items()]
        leaf.append(_option(focused_option, value, focused=True))
        top, nested = _nest_options(name, leaf)
        data = self._command_data(top, dp.COMMAND_CHAT_INPUT, channel, guild_id, command_guild_id)
        data["options"] = nested
        return self._new_interaction(
            dp.INTERACTION_AUTOCOMPLETE, data, user=user, channel=channel, guild_id=guild_id
        )

    def component(
        self,
        custom_id: str,
        *,
        user: Payload,
        channel: Payload,
        message: Payload,
        component_type: int = 2,
        values: Iterable[str] = (),
        guild_id: int | str | None = None,
    ) -> Payload:
        """Build a component interaction (type 3): a button (2) or select (3) on ``message``."""
        data: Payload = {"custom_id": custom_id, "component_type": component_type}
        if component_type != 2:
            data["values"] = list(values)
        payload = self._new_interaction(
            dp.INTERACTION_MESSAGE_COMPONENT, data, user=user, channel=channel, guild_id=guild_id
        )
        payload["message"] = message
        return payload

    async def send_interaction(self, payload: Payload) -> None:
        """Dispatch INTERACTION_CREATE; a hand-built payload's token is issued here."""
        self._interactions.setdefault(payload["token"], _Interaction(payload))
        await self.dispatch("INTERACTION_CREATE", payload)

    # -- recorded traffic and faults ------------------------------------------------------

    def find(
        self,
        method: str,
        path_pattern: str,
        where: Callable[[RecordedRequest], bool] = lambda _request: True,
    ) -> list[RecordedRequest]:
        """Recorded requests with ``method`` whose path ``re.fullmatch``-es ``path_pattern``
        and that satisfy ``where``."""
        method = method.upper()
        return [
            request
            for request in self.requests
            if request.method == method
            and re.fullmatch(path_pattern, request.path)
            and where(request)
        ]

    async def wait_for(
        self,
        method: str,
        path_pattern: str,
        *,
        count: int = 1,
        where: Callable[[RecordedRequest], bool] = lambda _request: True,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until ``count`` matching requests were answered; return all matches so far.

        Raises ``TimeoutError`` listing what was recorded instead.
        """
        try:
            async with asyncio.timeout(timeout), self._recorded:
                await self._recorded.wait_for(
                    lambda: len(self.find(method, path_pattern, where)) >= count
                )
        except TimeoutError:
            seen = "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.requests)
            raise TimeoutError(
                f"wanted {count} x {method} {path_pattern}; recorded:\n{seen or '  nothing'}"
            ) from None
        return self.find(method, path_pattern, where)

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        json_body: Any,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and ``json_body``.

        The request is recorded but not acted on.  A 429 gets the headers discord.py needs
        to honour it (``Retry-After``, ``X-RateLimit-*`` with ``Remaining: 0``, ``Via``),
        computed from ``json_body["retry_after"]``; ``headers`` override any of them.
        """
        fault_headers: dict[str, str] = {}
        if status == 429:
            retry_after = float(json_body.get("retry_after", 1.0))
            fault_headers = {
                **_rate_limit_headers("fault", remaining=0, reset_after=retry_after),
                "Retry-After": str(max(1, round(retry_after))),
                "X-RateLimit-Scope": "shared" if not json_body.get("global") else "global",
            }
            if json_body.get("global"):
                fault_headers["X-RateLimit-Global"] = "true"
        fault_headers.update(headers or {})
        self._faults.append(
            _Fault(method.upper(), path_pattern, status, json_body, fault_headers, times)
        )

    def stall(self, method: str, path_pattern: str, seconds: float) -> None:
        """Answer every matching request only after ``seconds``, as Discord does in an
        outage; the request is recorded when it is finally answered."""
        self._stalls.append((method.upper(), path_pattern, seconds))

    def hold(self, method: str, path_pattern: str) -> Hold:
        """Act on the next matching request but hold its answer back until the returned hold
        is released (a reply in flight); it is recorded when it is finally answered."""
        held = Hold(method.upper(), path_pattern)
        self._holds.append(held)
        return held

    def registered_commands(self, guild_id: int | str | None = None) -> list[Payload]:
        """The application commands last synced globally, or for ``guild_id``."""
        return self._commands.get(int(guild_id) if guild_id is not None else None, [])

    # -- HTTP plumbing ----------------------------------------------------------------------

    async def _handle_rest(self, request: web.Request) -> web.Response:
        recorded = self._recording(request, request.path.removeprefix(API_PREFIX))
        try:
            return await self._answer(request, recorded)
        finally:
            await self._record(recorded)

    @staticmethod
    def _recording(request: web.Request, path: str) -> RecordedRequest:
        return RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            files=[],
            headers=CIMultiDict(request.headers),
        )

    async def _record(self, recorded: RecordedRequest) -> None:
        """Append to ``requests`` and wake ``wait_for`` callers."""
        self.requests.append(recorded)
        async with self._recorded:
            self._recorded.notify_all()

    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.Response:
        """Route and answer one request, filling in the recorded status and response.

        A crash inside the fake answers 400 (which discord.py does not retry) and is kept in
        ``internal_errors``; ``close()`` raises it.
        """
        bucket = "unrouted"
        try:
            await self._read_body(request, recorded)
            for method, pattern, seconds in self._stalls:
                if method == recorded.method and re.fullmatch(pattern, recorded.path):
                    await asyncio.sleep(seconds)
            fault = self._take_fault(recorded)
            if fault is not None:
                recorded.status, recorded.response = fault.status, fault.body
                return _json_response(fault.status, fault.body, fault.headers)
            route, params = self._route(recorded)
            bucket = route.bucket
            if route.authenticated and recorded.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            recorded.status, recorded.response = 200, route.handler(recorded, **params)
        except ApiError as error:
            recorded.status, recorded.response = error.status, error.body
        except Exception as error:  # a bug in the fake: fail the request and the fixture
            self.internal_errors.append(error)
            recorded.status = 400
            recorded.response = {"code": 0, "message": f"FakeDiscord internal error: {error!r}"}
        for held in self._holds:
            if held.method == recorded.method and re.fullmatch(held.path_pattern, recorded.path):
                self._holds.remove(held)
                held.arrived.set()
                await held.released.wait()
                break
        headers = _rate_limit_headers(bucket)
        if recorded.status == 200 and recorded.response is None:
            recorded.status = 204
            return web.Response(status=204, headers=headers)
        return _json_response(recorded.status, recorded.response, headers)

    async def _read_body(self, request: web.Request, recorded: RecordedRequest) -> None:
        """Parse a JSON body, or a multipart body's ``payload_json`` and file parts."""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    recorded.json = self._parse_json(await part.text())
                elif part.filename is not None:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    recorded.files.append(
                        RecordedFile(
                            part.name or "", part.filename, content_type, await part.read()
                        )
                    )
            for upload in recorded.files:
                if len(upload.data) > dp.DEFAULT_ATTACHMENT_SIZE_LIMIT:
                    raise ApiError(413, 40005, "Request entity too large")
        elif request.can_read_body:
            recorded.json = self._parse_json(await request.text())

    @staticmethod
    def _parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    def _take_fault(self, recorded: RecordedRequest) -> _Fault | None:
        for fault in self._faults:
            if fault.method == recorded.method and re.fullmatch(fault.path_pattern, recorded.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _route(self, recorded: RecordedRequest) -> tuple[_Route, dict[str, str]]:
        path_known = False
        for route in self._routes:
            match = route.pattern.fullmatch(recorded.path)
            if match is None:
                continue
            path_known = True
            if route.method == recorded.method:
                return route, match.groupdict()
        if path_known:
            raise ApiError(405, 0, "405: Method Not Allowed")
        raise ApiError(404, 0, "404: Not Found")

    def _build_routes(self) -> list[_Route]:
        channel = r"/channels/(?P<channel_id>\d+)"
        message = channel + r"/messages/(?P<message_id>\d+)"
        webhook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        webhook_message = webhook + r"/messages/(?P<message_id>\d+|@original)"
        commands = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        table: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("GET", r"/users/@me", self._get_current_user, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", commands, self._get_commands, True),
            ("PUT", commands, self._put_commands, True),
            (
                "POST",
                r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                self._interaction_callback,
                False,
            ),
            ("POST", webhook, self._execute_webhook, False),
            ("GET", webhook_message, self._get_webhook_message, False),
            ("PATCH", webhook_message, self._edit_webhook_message, False),
            ("DELETE", webhook_message, self._delete_webhook_message, False),
            ("GET", channel, self._get_channel, True),
            ("DELETE", channel, self._delete_channel, True),
            ("GET", channel + r"/messages", self._get_channel_messages, True),
            ("POST", channel + r"/messages", self._create_channel_message, True),
            ("GET", message, self._get_channel_message, True),
            ("PATCH", message, self._edit_channel_message, True),
            ("DELETE", message, self._delete_channel_message, True),
            ("POST", channel + r"/typing", self._trigger_typing, True),
            ("PUT", message + r"/reactions/(?P<emoji>[^/]+)/@me", self._add_reaction, True),
            ("DELETE", message + r"/reactions/(?P<emoji>[^/]+)/@me", self._remove_reaction, True),
            ("POST", message + r"/threads", self._start_thread, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
        ]
        return [
            _Route(method, re.compile(pattern), handler, authenticated)
            for method, pattern, handler, authenticated in table
        ]

    async def _handle_cdn(self, request: web.Request) -> web.Response:
        """Serve attachment bytes (GET or HEAD); recorded in ``requests`` under ``/attachments``."""
        recorded = self._recording(request, request.path)
        key = (int(request.match_info["channel_id"]), int(request.match_info["attachment_id"]))
        stored = self._cdn.get(key)
        if stored is None or stored[0] != request.match_info["filename"]:
            recorded.status = 404
            response = web.Response(status=404, text="This content is no longer available.")
        else:
            _, content_type, data = stored
            recorded.status = 200
            response = web.Response(body=data, headers={"Content-Type": content_type})
        await self._record(recorded)
        return response

    # -- REST: identity, gateway discovery, commands -------------------------------------------

    def _get_gateway(self, _request: RecordedRequest) -> Payload:
        return {"url": self.gateway_url}

    def _get_gateway_bot(self, _request: RecordedRequest) -> Payload:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    def _get_current_user(self, _request: RecordedRequest) -> Payload:
        return {**self.bot_user, "verified": True, "mfa_enabled": False, "locale": "en-US"}

    def _get_application(self, _request: RecordedRequest) -> Payload:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.owner_user,
            "team": None,
            "flags": 0,
            "bot": self.bot_user,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self._guilds),
            "integration_types_config": {"0": {}},
        }

    def _check_application(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise ApiError(404, 10002, "Unknown Application")

    def _get_commands(
        self, _request: RecordedRequest, app_id: str, guild_id: str | None
    ) -> list[Payload]:
        self._check_application(app_id)
        return self.registered_commands(guild_id)

    def _put_commands(
        self, request: RecordedRequest, app_id: str, guild_id: str | None
    ) -> list[Payload]:
        """Bulk-overwrite commands; ids stay stable per (scope, name, type) across syncs."""
        self._check_application(app_id)
        if not isinstance(request.json, list):
            raise _invalid_form_body([], "LIST_TYPE_CONVERT", "Must be a list.")
        scope = int(guild_id) if guild_id is not None else None
        seen: set[tuple[str, int]] = set()
        stored: list[Payload] = []
        version = str(self._ids.next())
        for index, command in enumerate(request.json):
            command_type = int(command.get("type", dp.COMMAND_CHAT_INPUT))
            name = command.get("name", "")
            description = command.get("description", "")
            self._validate_command(index, command_type, name, description)
            if (name, command_type) in seen:
                raise _invalid_form_body(
                    [index, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique; {name!r} is repeated.",
                )
            seen.add((name, command_type))
            command_id = self._command_ids.setdefault((scope, name, command_type), self._ids.next())
            echoed: Payload = {
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": version,
                "type": command_type,
                "description": description,
            }
            if scope is None:
                echoed.setdefault("dm_permission", True)
            else:
                echoed["guild_id"] = str(scope)
            stored.append(echoed)
        self._commands[scope] = stored
        return stored

    @staticmethod
    def _validate_command(index: int, command_type: int, name: str, description: str) -> None:
        if command_type == dp.COMMAND_CHAT_INPUT:
            if not _CHAT_INPUT_NAME.fullmatch(name) or name != name.lower():
                raise _invalid_form_body(
                    [index, "name"],
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                )
            if not 1 <= len(description) <= 100:
                raise _invalid_form_body(
                    [index, "description"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
        elif not 1 <= len(name) <= 32:
            raise _invalid_form_body(
                [index, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
            )

    # -- REST: channels and messages --------------------------------------------------------

    def _get_channel(self, _request: RecordedRequest, channel_id: str) -> Payload:
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        return channel

    def _delete_channel(self, _request: RecordedRequest, channel_id: str) -> Payload:
        """Delete a guild channel or thread with its messages, like Discord: a thread needs
        MANAGE_THREADS (its creator is no exception), a channel MANAGE_CHANNELS.  THREAD_DELETE
        (id, guild_id, parent_id, type) or CHANNEL_DELETE follows; answers the channel."""
        channel = self._channel(channel_id)
        if "guild_id" not in channel:
            raise ApiError(400, 50003, "Cannot execute action on a DM channel")
        self._require_bot(channel, dp.VIEW_CHANNEL)
        is_thread = channel["type"] in dp.THREAD_TYPES
        self._require_bot(channel, dp.MANAGE_THREADS if is_thread else dp.MANAGE_CHANNELS)
        guild = self._guild(channel["guild_id"])
        del self.channels[int(channel["id"])]
        guild.channel_ids.remove(int(channel["id"]))
        for message in list(self.messages.values()):
            if message["channel_id"] == channel["id"]:
                del self.messages[int(message["id"])]
            elif message.get("thread", {}).get("id") == channel["id"]:
                del message["thread"]
        if is_thread:
            event = {key: channel[key] for key in ("id", "guild_id", "parent_id", "type")}
            self._emit("THREAD_DELETE", event, dp.INTENT_GUILDS)
        else:
            self._emit("CHANNEL_DELETE", channel, dp.INTENT_GUILDS)
        return channel

    def _create_dm(self, request: RecordedRequest) -> Payload:
        recipient_id = int((request.json or {}).get("recipient_id", 0))
        user = self.users.get(recipient_id)
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return self.add_dm_channel(user)

    def _get_channel_messages(self, request: RecordedRequest, channel_id: str) -> list[Payload]:
        """Newest first, honouring ``limit`` (1-100, default 50), ``before`` and ``after``.

        With ``after`` alone the page is the ``limit`` messages right after it, as on Discord;
        ``around`` is not supported.  Without READ_MESSAGE_HISTORY the list is empty.
        """
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        if not self._bot_permissions(channel) & dp.READ_MESSAGE_HISTORY:
            return []
        limit = min(max(int(request.query.get("limit", 50)), 1), 100)
        before = int(request.query.get("before", 1 << 63))
        after = int(request.query.get("after", 0))
        in_range = sorted(
            (
                message
                for message in self._visible_messages(int(channel["id"]))
                if after < int(message["id"]) < before
            ),
            key=lambda message: int(message["id"]),
        )
        only_after = "after" in request.query and "before" not in request.query
        chosen = in_range[:limit] if only_after else in_range[-limit:]
        return chosen[::-1]

    def _create_channel_message(self, request: RecordedRequest, channel_id: str) -> Payload:
        """Post as the bot: VIEW_CHANNEL, SEND_MESSAGES (…_IN_THREADS) and, for voice messages,
        SEND_VOICE_MESSAGES are checked before the body is validated."""
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        is_thread = channel["type"] in dp.THREAD_TYPES
        self._require_bot(channel, dp.SEND_MESSAGES_IN_THREADS if is_thread else dp.SEND_MESSAGES)
        body = request.json or {}
        if int(body.get("flags") or 0) & dp.FLAG_IS_VOICE_MESSAGE and not (
            self._bot_permissions(channel) & dp.SEND_VOICE_MESSAGES
        ):
            raise ApiError(403, 50173, "You cannot send voice messages in this channel.")
        message = self._compose_message(channel, body, request.files, allow_ephemeral=False)
        self._commit_new_message(message, None)
        return message

    def _get_channel_message(
        self, _request: RecordedRequest, channel_id: str, message_id: str
    ) -> Payload:
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        return self._channel_message(channel, message_id)

    def _edit_channel_message(
        self, request: RecordedRequest, channel_id: str, message_id: str
    ) -> Payload:
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        message = self._channel_message(channel, message_id)
        if message["author"]["id"] != self.bot_user["id"] or "webhook_id" in message:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return self._edit_message(message, request.json or {}, request.files, error_path=())

    def _delete_channel_message(
        self, _request: RecordedRequest, channel_id: str, message_id: str
    ) -> None:
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        message = self._channel_message(channel, message_id)
        if message["author"]["id"] != self.bot_user["id"]:
            self._require_bot(channel, dp.MANAGE_MESSAGES)
        self._delete_message(message)

    def _trigger_typing(self, _request: RecordedRequest, channel_id: str) -> None:
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)

    def _add_reaction(
        self, _request: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> None:
        """React as the bot: READ_MESSAGE_HISTORY, and ADD_REACTIONS for a new emoji."""
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        self._require_bot(channel, dp.READ_MESSAGE_HISTORY)
        message = self._channel_message(channel, message_id)
        partial_emoji = self._partial_emoji(emoji)
        reaction = next((r for r in message["reactions"] if r["emoji"] == partial_emoji), None)
        if reaction is None:
            self._require_bot(channel, dp.ADD_REACTIONS)
            reaction = {
                "count": 0,
                "count_details": {"burst": 0, "normal": 0},
                "me": False,
                "me_burst": False,
                "burst_colors": [],
                "emoji": partial_emoji,
            }
            message["reactions"].append(reaction)
        if reaction["me"]:
            return
        reaction["me"] = True
        reaction["count"] += 1
        reaction["count_details"]["normal"] += 1
        self._emit_reaction("MESSAGE_REACTION_ADD", message, partial_emoji)

    def _remove_reaction(
        self, _request: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> None:
        channel = self._channel(channel_id)
        self._require_bot(channel, dp.VIEW_CHANNEL)
        message = self._channel_message(channel, message_id)
        partial_emoji = self._partial_emoji(emoji)
        for reaction in message["reactions"]:
            if reaction["emoji"] == partial_emoji and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
                reaction["count_details"]["normal"] -= 1
                if reaction["count"] == 0:
                    message["reactions"].remove(reaction)
                self._emit_reaction("MESSAGE_REACTION_REMOVE", message, partial_emoji)
                return

    def _start_thread(self, request: RecordedRequest, channel_id: str, message_id: str) -> Payload:
        """Start a public thread on a message; like Discord, the thread takes the message's id."""
        channel = self._channel(channel_id)
        if channel["type"] != dp.GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require_bot(channel, dp.VIEW_CHANNEL)
        self._require_bot(channel, dp.CREATE_PUBLIC_THREADS)
        message = self._channel_message(channel, message_id)
        if int(message["id"]) in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        body = request.json or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise _invalid_form_body(
                ["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        thread = dp.thread_payload(
            int(message["id"]),
            channel,
            name,
            owner_id=self.application_id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        self._add_guild_channel(self._guild(channel["guild_id"]), thread)
        message["thread"] = thread
        self._emit("THREAD_CREATE", {**thread, "newly_created": True}, dp.INTENT_GUILDS)
        return thread

    # -- REST: interactions and their webhooks -------------------------------------------------

    def _interaction_callback(
        self, request: RecordedRequest, interaction_id: str, token: str
    ) -> Payload | None:
        """Acknowledge an interaction once; types 4/5 create the original response.

        Answers the ``with_response`` shape discord.py reads; 204 without that query.
        """
        interaction = self._interactions.get(token)
        if interaction is None or interaction.id != int(interaction_id):
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = request.json or {}
        callback_type = body.get("type")
        allowed = _CALLBACK_TYPES_BY_INTERACTION[interaction.type]
        if callback_type not in allowed:
            raise _invalid_form_body(
                ["type"], "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}."
            )
        data = body.get("data") or {}
        message: Payload | None = None
        if callback_type == 4:
            message = self._post_interaction_message(interaction, data, request.files, ("data",))
        elif callback_type == 5:
            message = self._post_thinking_message(interaction, data)
        elif callback_type in (6, 7):
            message = self._component_message(interaction)
            if callback_type == 7:
                message = self._edit_message(message, data, request.files, error_path=("data",))
            interaction.original_id = int(message["id"])
        elif callback_type == 8:
            if len(data.get("choices") or []) > MAX_AUTOCOMPLETE_CHOICES:
                raise _invalid_form_body(
                    ["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
        elif callback_type == 9:
            for key in ("custom_id", "title", "components"):
                if not data.get(key):
                    raise _invalid_form_body(
                        ["data", key], "BASE_TYPE_REQUIRED", "This field is required"
                    )
        interaction.response_type = callback_type
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return None
        return self._callback_response(interaction, callback_type, message)

    def _callback_response(
        self, interaction: _Interaction, callback_type: int, message: Payload | None
    ) -> Payload:
        summary: Payload = {"id": str(interaction.id), "type": interaction.type}
        response: Payload = {"interaction": summary}
        if message is not None and callback_type in (4, 5, 7):
            summary["response_message_id"] = message["id"]
            summary["response_message_loading"] = bool(message["flags"] & dp.FLAG_LOADING)
            summary["response_message_ephemeral"] = bool(message["flags"] & dp.FLAG_EPHEMERAL)
            response["resource"] = {"type": callback_type, "message": message}
        return response

    def _execute_webhook(self, request: RecordedRequest, app_id: str, token: str) -> Payload | None:
        """Send a followup; the first one after a deferral replaces the "thinking" message.

        The replacement keeps the placeholder's id and its ephemerality, as on Discord. An app
        used where only the member installed it gets 40094 past five followups.
        """
        interaction = self._webhook_interaction(app_id, token)
        if interaction.followups_capped and interaction.followups >= MAX_USER_APP_FOLLOWUPS:
            raise ApiError(
                400, 40094, "This interaction has hit the maximum number of follow up messages"
            )
        body = request.json or {}
        channel = self._channel(interaction.payload["channel_id"])
        message = self._compose_message(
            channel, body, request.files, allow_ephemeral=True, interaction=interaction
        )
        interaction.followups += 1
        placeholder = self.messages.get(interaction.original_id or 0)
        if interaction.thinking and placeholder is not None:
            message["id"] = placeholder["id"]
            message["timestamp"] = placeholder["timestamp"]
            message["flags"] = (message["flags"] & ~dp.FLAG_EPHEMERAL) | (
                placeholder["flags"] & dp.FLAG_EPHEMERAL
            )
            interaction.thinking = False
            self._link_interaction(message, interaction)
            self._store_message(message)
            if not message["flags"] & dp.FLAG_EPHEMERAL:
                self._emit("MESSAGE_UPDATE", message, self._message_intent(message))
        else:
            self._commit_new_message(message, interaction)
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return None
        return message

    def _get_webhook_message(
        self, _request: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> Payload:
        return self._webhook_message(self._webhook_interaction(app_id, token), message_id)

    def _edit_webhook_message(
        self, request: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> Payload:
        interaction = self._webhook_interaction(app_id, token)
        message = self._webhook_message(interaction, message_id)
        return self._edit_message(message, request.json or {}, request.files, error_path=())

    def _delete_webhook_message(
        self, _request: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> None:
        interaction = self._webhook_interaction(app_id, token)
        self._delete_message(self._webhook_message(interaction, message_id))

    def _webhook_interaction(self, app_id: str, token: str) -> _Interaction:
        """An interaction's webhook exists once it was acknowledged (not for autocomplete)."""
        interaction = self._interactions.get(token)
        if (
            int(app_id) != self.application_id
            or interaction is None
            or interaction.response_type in (None, 1, 8)
        ):
            raise _unknown_webhook()
        return interaction

    def _webhook_message(self, interaction: _Interaction, message_id: str) -> Payload:
        """``@original`` or a followup of this interaction, ephemeral ones included."""
        wanted = interaction.original_id if message_id == "@original" else int(message_id)
        own = wanted == interaction.original_id or wanted in interaction.message_ids
        if wanted is None or not own or wanted not in self.messages:
            raise _unknown_message()
        return self.messages[wanted]

    def _component_message(self, interaction: _Interaction) -> Payload:
        message = self.messages.get(int(interaction.payload["message"]["id"]))
        if message is None:
            raise _unknown_message()
        return message

    def _post_interaction_message(
        self,
        interaction: _Interaction,
        body: Payload,
        files: list[RecordedFile],
        error_path: tuple[str, ...],
    ) -> Payload:
        channel = self._channel(interaction.payload["channel_id"])
        message = self._compose_message(
            channel,
            body,
            files,
            allow_ephemeral=True,
            error_path=error_path,
            interaction=interaction,
        )
        self._commit_new_message(message, interaction)
        if interaction.original_id is None:
            interaction.original_id = int(message["id"])
        return message

    def _post_thinking_message(self, interaction: _Interaction, data: Payload) -> Payload:
        """The "is thinking…" placeholder of a deferral: LOADING, ephemeral if asked."""
        channel = self._channel(interaction.payload["channel_id"])
        message = dp.message_payload(
            self._ids.next(),
            channel["id"],
            self.bot_user,
            guild_id=channel.get("guild_id"),
            flags=dp.FLAG_LOADING | (int(data.get("flags") or 0) & dp.FLAG_EPHEMERAL),
            message_type=self._message_type(interaction),
        )
        self._commit_new_message(message, interaction)
        interaction.original_id = int(message["id"])
        interaction.thinking = True
        return message

    # -- messages: validation, storage, events ---------------------------------------------

    def _compose_message(
        self,
        channel: Payload,
        body: Payload,
        files: list[RecordedFile],
        *,
        allow_ephemeral: bool,
        error_path: tuple[str, ...] = (),
        interaction: _Interaction | None = None,
    ) -> Payload:
        """Validate a new message like Discord and build it, uploads stored on the CDN.

        Content over 2000 characters or more than 10 embeds: 50035; voice message rules:
        50159/50160/50161; attachment metadata without its ``files[n]`` part: 50146; nothing
        to show: 50006.  The message is neither stored nor announced yet.
        """
        flags = int(body.get("flags") or 0) & _SENDABLE_MESSAGE_FLAGS
        if not allow_ephemeral:
            flags &= ~dp.FLAG_EPHEMERAL
        content = body.get("content") or ""
        self._validate_content(body, error_path)
        metadata_by_id = {str(entry.get("id")): entry for entry in body.get("attachments") or []}
        if flags & dp.FLAG_IS_VOICE_MESSAGE:
            self._validate_voice_message(body, files, metadata_by_id)
        indexes = {str(_file_index(upload, position)) for position, upload in enumerate(files)}
        if not set(metadata_by_id) <= indexes:
            raise ApiError(400, 50146, "Uploaded file not found.")
        attachments = self._store_uploads(int(channel["id"]), files, metadata_by_id)
        if not (
            content
            or body.get("embeds")
            or attachments
            or body.get("sticker_ids")
            or body.get("poll")
            or body.get("components")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = dp.message_payload(
            self._ids.next(),
            channel["id"],
            self.bot_user,
            content=content,
            guild_id=channel.get("guild_id"),
            attachments=attachments,
            embeds=body.get("embeds") or [],
            flags=flags,
            message_type=self._message_type(interaction),
            mentions=self._mentioned_users(content),
            components=body.get("components") or [],
        )
        message["tts"] = bool(body.get("tts"))
        if "nonce" in body:
            message["nonce"] = body["nonce"]
        self._apply_reference(message, body.get("message_reference"), error_path)
        return message

    def _commit_new_message(self, message: Payload, interaction: _Interaction | None) -> None:
        """Store a composed message and announce it with MESSAGE_CREATE (unless ephemeral)."""
        if interaction is not None:
            self._link_interaction(message, interaction)
        self._store_message(message)
        if message["flags"] & dp.FLAG_EPHEMERAL:
            return
        event = dict(message)
        self._add_author_member(event)
        self._emit("MESSAGE_CREATE", event, self._message_intent(message))

    @staticmethod
    def _validate_content(body: Payload, error_path: tuple[str, ...]) -> None:
        content = body.get("content") or ""
        if len(content) > MAX_CONTENT_LENGTH:
            raise _invalid_form_body(
                [*error_path, "content"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CONTENT_LENGTH} or fewer in length.",
            )
        if len(body.get("embeds") or []) > MAX_EMBEDS:
            raise _invalid_form_body(
                [*error_path, "embeds"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_EMBEDS} or fewer in length.",
            )

    @staticmethod
    def _validate_voice_message(
        body: Payload, files: list[RecordedFile], metadata_by_id: Mapping[str, Payload]
    ) -> None:
        """One audio upload, nothing else, and ``duration_secs``/``waveform`` in its metadata.

        The upload counts as audio by the Content-Type of its part (discord.py's own file
        parts say ``application/octet-stream``).
        """
        if any(body.get(key) for key in ("content", "embeds", "sticker_ids", "poll", "components")):
            raise ApiError(400, 50159, "Voice messages do not support additional content.")
        if len(files) != 1 or not files[0].content_type.startswith("audio/"):
            raise ApiError(400, 50160, "Voice messages must have a single audio attachment.")
        metadata = metadata_by_id.get(str(_file_index(files[0], 0)), {})
        if metadata.get("duration_secs") is None or not metadata.get("waveform"):
            raise ApiError(400, 50161, "Voice messages must have supporting metadata.")

    def _edit_message(
        self,
        message: Payload,
        body: Payload,
        files: list[RecordedFile],
        *,
        error_path: tuple[str, ...],
    ) -> Payload:
        """Apply an edit like Discord: voice messages can't be edited (50162), content and
        embeds are limited as for new messages, and the result can't be empty (50006).

        Without an ``attachments`` list new uploads join the kept ones; with it only listed
        existing attachments (by id) and the new uploads remain.  Editing a deferral's
        placeholder ends its "thinking" state.
        """
        if message["flags"] & dp.FLAG_IS_VOICE_MESSAGE:
            raise ApiError(400, 50162, "Voice messages cannot be edited.")
        self._validate_content(body, error_path)
        metadata_by_id = {str(entry.get("id")): entry for entry in body.get("attachments") or []}
        kept = message["attachments"]
        if body.get("attachments") is not None:
            kept = [attachment for attachment in kept if attachment["id"] in metadata_by_id]
        uploads = self._store_uploads(int(message["channel_id"]), files, metadata_by_id)
        edited = {**message, "attachments": kept + uploads}
        if "content" in body:
            edited["content"] = body["content"] or ""
        if "embeds" in body:
            edited["embeds"] = [{"type": "rich", **embed} for embed in body["embeds"] or []]
        if "components" in body:
            edited["components"] = body["components"] or []
        if body.get("flags") is not None:
            edited["flags"] = (message["flags"] & ~dp.FLAG_SUPPRESS_EMBEDS) | (
                int(body["flags"]) & dp.FLAG_SUPPRESS_EMBEDS
            )
        edited["flags"] &= ~dp.FLAG_LOADING
        if not (
            edited["content"] or edited["embeds"] or edited["attachments"] or edited["components"]
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        edited["mentions"] = self._mentioned_users(edited["content"])
        edited["edited_timestamp"] = dp.iso_now()
        message.update(edited)
        for interaction in self._interactions.values():
            if interaction.original_id == int(message["id"]):
                interaction.thinking = False
        if not message["flags"] & dp.FLAG_EPHEMERAL:
            self._emit("MESSAGE_UPDATE", message, self._message_intent(message))
        return message

    def _delete_message(self, message: Payload) -> None:
        del self.messages[int(message["id"])]
        if message["flags"] & dp.FLAG_EPHEMERAL:
            return
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        self._emit("MESSAGE_DELETE", event, self._message_intent(message))

    @staticmethod
    def _message_type(interaction: _Interaction | None) -> int:
        """20 for slash command responses, 23 for context menus, 0 otherwise."""
        if interaction is None or interaction.type != dp.INTERACTION_APPLICATION_COMMAND:
            return dp.MESSAGE_DEFAULT
        if interaction.payload["data"].get("type", 1) == dp.COMMAND_CHAT_INPUT:
            return dp.MESSAGE_CHAT_INPUT_COMMAND
        return dp.MESSAGE_CONTEXT_MENU_COMMAND

    def _link_interaction(self, message: Payload, interaction: _Interaction) -> None:
        """Mark a message as the interaction's, with webhook and ``interaction_metadata``."""
        metadata: Payload = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.user,
            "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
        }
        data = interaction.payload.get("data") or {}
        if interaction.type == dp.INTERACTION_APPLICATION_COMMAND:
            metadata["name"] = data["name"]
            metadata["command_type"] = data.get("type", dp.COMMAND_CHAT_INPUT)
            if "target_id" in data:
                metadata["target_message_id"] = data["target_id"]
        if interaction.original_id not in (None, int(message["id"])):
            metadata["original_response_message_id"] = str(interaction.original_id)
        message["interaction_metadata"] = metadata
        message["webhook_id"] = str(self.application_id)
        message["application_id"] = str(self.application_id)
        interaction.message_ids.add(int(message["id"]))

    def _apply_reference(
        self, message: Payload, reference: Payload | None, error_path: tuple[str, ...]
    ) -> None:
        """Turn a ``message_reference`` (reply) into a REPLY with ``referenced_message``."""
        if not reference or "message_id" not in reference:
            return
        referenced = self.messages.get(int(reference["message_id"]))
        if referenced is None:
            if reference.get("fail_if_not_exists", True):
                raise _invalid_form_body(
                    [*error_path, "message_reference"],
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                )
            return
        message["type"] = dp.MESSAGE_REPLY
        message["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            **({"guild_id": referenced["guild_id"]} if "guild_id" in referenced else {}),
        }
        message["referenced_message"] = {
            key: value for key, value in referenced.items() if key != "referenced_message"
        }

    def _store_message(self, message: Payload) -> None:
        self.messages[int(message["id"])] = message
        channel = self.channels.get(int(message["channel_id"]))
        if channel is not None and not message["flags"] & dp.FLAG_EPHEMERAL:
            channel["last_message_id"] = message["id"]

    def _add_author_member(self, message: Payload) -> None:
        """Add the author's partial ``member`` to a guild message, as gateway events have it."""
        if "guild_id" not in message:
            return
        member = self._guild(message["guild_id"]).members.get(int(message["author"]["id"]))
        if member is not None:
            message["member"] = {key: value for key, value in member.items() if key != "user"}

    @staticmethod
    def _message_intent(message: Payload) -> int:
        return dp.INTENT_GUILD_MESSAGES if "guild_id" in message else dp.INTENT_DIRECT_MESSAGES

    def _mentioned_users(self, content: str) -> list[Payload]:
        mentioned = dict.fromkeys(int(user_id) for user_id in _USER_MENTION.findall(content))
        return [self.users[user_id] for user_id in mentioned if user_id in self.users]

    def _store_uploads(
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
            attachment = self._store_attachment(
                channel_id, upload.filename, upload.data, content_type
            )
            metadata = metadata_by_id.get(str(_file_index(upload, position)), {})
            for key in ("description", "duration_secs", "waveform", "title"):
                if metadata.get(key) is not None:
                    attachment[key] = metadata[key]
            attachments.append(attachment)
        return attachments

    def _store_attachment(
        self, channel_id: int, filename: str, data: bytes, content_type: str
    ) -> Payload:
        attachment_id = self._ids.next()
        self._cdn[(channel_id, attachment_id)] = (filename, content_type, data)
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    # -- lookups and permissions ------------------------------------------------------------

    def _guild(self, guild_id: int | str) -> _Guild:
        guild = self._guilds.get(int(guild_id))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    @staticmethod
    def _role(guild: _Guild, role_id: int) -> Payload:
        return next(role for role in guild.payload["roles"] if int(role["id"]) == role_id)

    def _channel(self, channel_id: int | str) -> Payload:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _add_guild_channel(self, guild: _Guild, channel: Payload) -> None:
        self.channels[int(channel["id"])] = channel
        guild.channel_ids.append(int(channel["id"]))

    def _visible_messages(self, channel_id: int) -> Iterable[Payload]:
        return (
            message
            for message in self.messages.values()
            if int(message["channel_id"]) == channel_id and not message["flags"] & dp.FLAG_EPHEMERAL
        )

    def _channel_message(self, channel: Payload, message_id: int | str) -> Payload:
        message = self.messages.get(int(message_id))
        if (
            message is None
            or message["channel_id"] != channel["id"]
            or message["flags"] & dp.FLAG_EPHEMERAL
        ):
            raise _unknown_message()
        return message

    def permissions_in(self, channel: Payload, user_id: int | str) -> int:
        """A user's permissions in a channel: Discord's resolution, threads use their parent's
        overwrites, DMs grant ``DM_PERMISSIONS``, non-members get nothing."""
        if "guild_id" not in channel:
            return dp.DM_PERMISSIONS
        guild = self._guild(channel["guild_id"])
        member = guild.members.get(int(user_id))
        if member is None:
            return 0
        source = channel
        if channel["type"] in dp.THREAD_TYPES:
            source = self.channels[int(channel["parent_id"])]
        return dp.compute_permissions(
            guild_id=int(guild.payload["id"]),
            owner_id=int(guild.payload["owner_id"]),
            roles=guild.payload["roles"],
            member_id=int(user_id),
            member_role_ids=member["roles"],
            overwrites=source.get("permission_overwrites", []),
        )

    def _bot_permissions(self, channel: Payload) -> int:
        return self.permissions_in(channel, self.application_id)

    def _require_bot(self, channel: Payload, permission: int) -> None:
        """403 like Discord: 50001 without VIEW_CHANNEL, 50013 for anything else missing."""
        if self._bot_permissions(channel) & permission:
            return
        if permission == dp.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        raise _missing_permissions()

    @staticmethod
    def _partial_emoji(emoji: str) -> Payload:
        """``name:id`` (custom) or a unicode emoji, as the reaction routes take them."""
        name, _, emoji_id = emoji.rpartition(":")
        if name and emoji_id.isdigit():
            return {"id": emoji_id, "name": name}
        return {"id": None, "name": emoji}

    # -- interaction building ---------------------------------------------------------------

    def _command_data(
        self,
        name: str,
        command_type: int,
        channel: Payload,
        guild_id: int | str | None,
        command_guild_id: int | str | None,
    ) -> Payload:
        """``data.id`` and ``data.guild_id`` of a command, from what the bot synced."""
        interaction_guild = guild_id if guild_id is not None else channel.get("guild_id")
        scope: int | None
        if command_guild_id is not None:
            scope = int(command_guild_id)
            command_id = self._command_ids.get((scope, name, command_type))
        else:
            candidates = [int(interaction_guild)] if interaction_guild is not None else []
            scope, command_id = next(
                (
                    (candidate, self._command_ids[(candidate, name, command_type)])
                    for candidate in [*candidates, None]
                    if (candidate, name, command_type) in self._command_ids
                ),
                (None, None),
            )
        data: Payload = {
            "id": str(command_id or self._ids.next()),
            "name": name,
            "type": command_type,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return data

    def _new_interaction(
        self,
        interaction_type: int,
        data: Payload,
        *,
        user: Payload,
        channel: Payload,
        guild_id: int | str | None,
    ) -> Payload:
        """Build an INTERACTION_CREATE payload as Discord sends it and issue its token."""
        guild_id = guild_id if guild_id is not None else channel.get("guild_id")
        interaction_id = self._ids.next()
        user_permissions = self.permissions_in(channel, user["id"])
        payload: Payload = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "channel": {**channel, "permissions": str(user_permissions)},
            "channel_id": channel["id"],
            "app_permissions": str(self._bot_permissions(channel)),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id) if guild_id else "0"},
            "context": 0 if guild_id is not None else 1,
            "attachment_size_limit": dp.DEFAULT_ATTACHMENT_SIZE_LIMIT,
        }
        if guild_id is not None:
            guild = self._guild(guild_id)
            member = guild.members.get(int(user["id"]))
            if member is None:
                raise ValueError(f"user {user['username']!r} is not a member; add_member() first")
            payload["guild_id"] = str(guild_id)
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = {**member, "user": user, "permissions": str(user_permissions)}
        else:
            payload["user"] = user
        self._interactions[payload["token"]] = _Interaction(payload)
        return payload

    # -- gateway plumbing -------------------------------------------------------------------

    def _emit(self, event: str, data: Any, intent: int | None = None) -> None:
        """Send a dispatch to the identified session, if its intents cover ``intent``.

        With the bot disconnected the dispatch waits in the session history for a RESUME.
        """
        session = self._session
        if session is None or (intent is not None and not session.intents & intent):
            return
        payload = session.stamp(event, data)
        if self._connection is not None and self._connection.session is session:
            self._connection.send(payload)

    def _guild_create(self, guild: _Guild) -> Payload:
        channels = [self.channels[channel_id] for channel_id in guild.channel_ids]
        return {
            **guild.payload,
            "joined_at": dp.iso_now(),
            "large": False,
            "member_count": len(guild.members),
            "members": list(guild.members.values()),
            "channels": [c for c in channels if c["type"] not in dp.THREAD_TYPES],
            "threads": [c for c in channels if c["type"] in dp.THREAD_TYPES],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _emit_reaction(self, event: str, message: Payload, emoji: Payload) -> None:
        data: Payload = {
            "user_id": self.bot_user["id"],
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "emoji": emoji,
            "burst": False,
            "type": 0,
        }
        intent = dp.INTENT_DIRECT_MESSAGE_REACTIONS
        if "guild_id" in message:
            data["guild_id"] = message["guild_id"]
            intent = dp.INTENT_GUILD_MESSAGE_REACTIONS
            if event == "MESSAGE_REACTION_ADD":
                data["member"] = self._guild(message["guild_id"]).members[self.application_id]
        self._emit(event, data, intent)

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = _GatewayConnection(ws)
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
                self.gateway_received.append(payload)
                await self._on_gateway_payload(connection, payload)
        finally:
            if self._connection is connection:
                self._connection = None
                self._identified.clear()
            await connection.stop()
            self._connections.discard(connection)
        return ws

    async def _on_gateway_payload(self, connection: _GatewayConnection, payload: Payload) -> None:
        """Answer one client payload; close codes follow Discord's (4001, 4003-4005, 4014)."""
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op in (2, 6) and connection.session is not None:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
        elif op in (2, 6) and data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
        elif op == 2 and int(data.get("intents", 0)) & ~self.enabled_privileged_intents & (
            dp.PRIVILEGED_INTENTS
        ):
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)
        elif connection.session is None:
            await connection.ws.close(code=4003, message=b"Not authenticated.")
        elif op == 8:
            self._send_member_chunk(data)
        elif op not in (3, 4):
            await connection.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, connection: _GatewayConnection, data: Payload) -> None:
        """Start a new session: READY, then a GUILD_CREATE per guild."""
        session = _GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)))
        self._session, self._connection, connection.session = session, connection, session
        self._emit(
            "READY",
            {
                "v": 10,
                "user": {**self.bot_user, "verified": True, "mfa_enabled": False},
                "guilds": [
                    {"id": guild.payload["id"], "unavailable": True}
                    for guild in self._guilds.values()
                ],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "_trace": ["fake-discord"],
            },
        )
        for guild in self._guilds.values():
            self._emit(
                "GUILD_CREATE",
                {**self._guild_create(guild), "unavailable": False},
                dp.INTENT_GUILDS,
            )
        await connection.flush()
        self._identified.set()

    async def _resume(self, connection: _GatewayConnection, data: Payload) -> None:
        """Replay what the bot missed and send RESUMED, or op 9 for an unknown session."""
        session = self._session
        if session is None or data.get("session_id") != session.session_id:
            connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self._connection, connection.session = connection, session
        last_seen = data.get("seq") or 0
        for payload in session.history:
            if payload["s"] > last_seen:
                connection.send(payload)
        self._emit("RESUMED", {"_trace": ["fake-discord"]})
        await connection.flush()
        self._identified.set()

    def _send_member_chunk(self, data: Payload) -> None:
        """Answer op 8 REQUEST_GUILD_MEMBERS with one GUILD_MEMBERS_CHUNK."""
        guild = self._guild(data["guild_id"])
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
        self._emit("GUILD_MEMBERS_CHUNK", chunk)


@contextlib.asynccontextmanager
async def serve_fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """Start a ``FakeDiscord``, point discord.py at it, and close it on exit."""
    fake = FakeDiscord()
    await fake.start()
    fake.patch_discord(monkeypatch)
    try:
        yield fake
    finally:
        await fake.close()


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord,
    client: discord.Client,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in (running its ``setup_hook``), connect it, and wait for ``on_ready``.

    On exit the client is closed and its connect task awaited, so a crash in the bot's
    gateway loop fails the test.  Build the client with a small ``guild_ready_timeout``.
    """
    await client.login(fake.token)
    connect = asyncio.create_task(client.connect(), name="fake-discord-client")
    try:
        ready = asyncio.ensure_future(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {connect, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if connect in done:
                connect.result()
            raise TimeoutError(f"the client was not ready within {timeout} s")
        yield client
    finally:
        await client.close()
        async with asyncio.timeout(timeout):
            await connect
