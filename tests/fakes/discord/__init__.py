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
* a voice server (``voice_server``, its own TLS port and UDP port): the bot's op 4 joins a
  voice or stage channel, the voice gateway hands out a transport key, and the audio the bot
  plays is decrypted and decoded, so tests assert what was heard (``voice_server.heard_from``);
  on a stage only once the bot is a speaker.  A client must trust its certificate:
  ``connector=aiohttp.TCPConnector(ssl=client_ssl_context())``.

The world (guilds, channels, users, members, messages) is held as plain payload dicts shaped
like Discord's; see ``tests.fakes.discord_payloads`` for the builders and constants.

A test points discord.py here with ``patch_discord()`` and runs a real bot::

    async with serve_fake_discord() as fake:
        guild = fake.add_guild()
        channel = fake.add_text_channel(guild["id"])
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        async with running_bot(fake, bot):
            ...

``guild_ready_timeout`` matters: discord.py waits that long after the *last* GUILD_CREATE before
it fires ``on_ready`` (2 s by default), however quickly the guilds arrive.

The parts: ``world`` (the state and its builders), ``gateway`` (the websocket and event
dispatch), ``rest`` (request handling) with its routes in ``rest_application``,
``rest_interactions``, ``rest_channels`` and ``rest_voice``, ``messages`` (what sending,
editing and deleting a message does), ``interactions`` (building interactions), ``cdn`` and
``recording`` (the traffic log and queued faults), ``voice_states`` (joining calls, speaking
on stages), ``voice`` (the voice gateway) and ``voice_media`` (its UDP socket).
``FakeDiscord`` wires them together.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from unittest import mock

import discord.gateway
import discord.http
import yarl
from aiohttp import web

from tests.fakes.discord.address import API_PREFIX, Address
from tests.fakes.discord.cdn import Cdn
from tests.fakes.discord.gateway import HEARTBEAT_INTERVAL_MS, Events, Gateway
from tests.fakes.discord.interactions import Interactions, OptionValue
from tests.fakes.discord.messages import MAX_CONTENT_LENGTH, MAX_EMBEDS, Messages
from tests.fakes.discord.recording import ApiError, Hold, RecordedFile, RecordedRequest, Recorder
from tests.fakes.discord.rest import RestApi
from tests.fakes.discord.rest_application import ApplicationRoutes
from tests.fakes.discord.rest_channels import ChannelRoutes
from tests.fakes.discord.rest_interactions import (
    MAX_AUTOCOMPLETE_CHOICES,
    MAX_USER_APP_FOLLOWUPS,
    InteractionRoutes,
)
from tests.fakes.discord.rest_voice import VoiceRoutes
from tests.fakes.discord.voice import Speaking, VoiceServer, client_ssl_context
from tests.fakes.discord.voice_media import Heard
from tests.fakes.discord.voice_states import VoiceStates
from tests.fakes.discord.world import World

__all__ = [
    "API_PREFIX",
    "HEARTBEAT_INTERVAL_MS",
    "MAX_AUTOCOMPLETE_CHOICES",
    "MAX_CONTENT_LENGTH",
    "MAX_EMBEDS",
    "MAX_USER_APP_FOLLOWUPS",
    "ApiError",
    "FakeDiscord",
    "Heard",
    "Hold",
    "OptionValue",
    "RecordedFile",
    "RecordedRequest",
    "Speaking",
    "client_ssl_context",
    "running_bot",
    "serve_fake_discord",
]


class FakeDiscord:
    """Serves Discord's REST API (/api/v10), a gateway websocket and a CDN on 127.0.0.1.

    Construct, ``await start()``, populate the world with the ``add_*`` methods (before the bot
    connects, or after: later changes are announced over the gateway), and ``await close()``.
    The @everyone role of every guild has no permissions, so the bot's own managed role
    (``set_bot_permissions``) alone decides what the bot may do.

    Most methods are those of the part that does the work, bound in ``__init__``: the world's
    builders (``add_*``, ``make_message``, ...; ``add_attachment`` is the CDN's), the
    interaction builders (``slash_command``, ...), the gateway (``dispatch``, ...) and the
    recorder (``find``, ``wait_for``, ``fail_next``, ``stall``, ``hold``).

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
        voice_server: Discord's voice servers (``voice.VoiceServer``): what was heard, the
            SPEAKING ops, closing voice connections with a code.
    """

    token = "fake-token"

    def __init__(self) -> None:
        self._address = Address()
        events = Events()
        world = World(events)
        recorder = Recorder()
        self._cdn = Cdn(world.ids, self._address, recorder)
        messages = Messages(world, self._cdn, events)
        self.voice_server = VoiceServer()
        voice_states = VoiceStates(world, events, self.voice_server)
        self.voice_server.audible = voice_states.audible
        self.voice_server.speakers.roster = voice_states
        self._gateway = Gateway(self.token, self._address, world, events, voice_states)
        self._rest = RestApi(
            self.token,
            recorder,
            [
                *ApplicationRoutes(world, self._address).routes(),
                *InteractionRoutes(world, messages).routes(),
                *ChannelRoutes(world, messages, events).routes(),
                *VoiceRoutes(voice_states).routes(),
            ],
        )
        self._runner: web.AppRunner | None = None
        interactions = Interactions(world, events)

        self.application_id = world.application_id
        self.bot_user = world.bot_user
        self.owner_user = world.owner_user
        self.users = world.users
        self.channels = world.channels
        self.messages = world.messages
        self.requests = recorder.requests
        self.gateway_received = self._gateway.received
        self.internal_errors = self._rest.internal_errors

        self.add_user = world.add_user
        self.add_guild = world.add_guild
        self.add_role = world.add_role
        self.bot_role = world.bot_role
        self.visible_messages = world.visible_messages
        self.set_bot_permissions = world.set_bot_permissions
        self.add_member = world.add_member
        self.add_text_channel = world.add_text_channel
        self.add_voice_channel = world.add_voice_channel
        self.add_stage_channel = world.add_stage_channel
        self.set_voice_state = voice_states.set_voice_state
        self.set_suppressed = voice_states.set_suppressed
        self.voice_state = voice_states.voice_state
        self.move_voice_server = voice_states.move_voice_server
        self.voice_channel_of = voice_states.channel_of
        self.add_dm_channel = world.add_dm_channel
        self.add_attachment = self._cdn.add_attachment
        self.make_message = world.make_message
        self.edit_message_as_author = world.edit_message_as_author
        self.forward_message = world.forward_message
        self.permissions_in = world.permissions_in
        self.registered_commands = world.registered_commands

        self.slash_command = interactions.slash_command
        self.message_command = interactions.message_command
        self.autocomplete = interactions.autocomplete
        self.component = interactions.component
        self.send_interaction = interactions.send_interaction

        self.dispatch = events.dispatch
        self.wait_until_identified = self._gateway.wait_until_identified
        self.request_reconnect = self._gateway.request_reconnect
        self.gateway_down = self._gateway.down
        self.wait_for_sessions = self._gateway.wait_for_sessions
        self.gateway_refused = self._gateway.refused

        self.find = recorder.find
        self.wait_for = recorder.wait_for
        self.fail_next = recorder.fail_next
        self.stall = recorder.stall
        self.hold = recorder.hold

    @property
    def enabled_privileged_intents(self) -> int:
        return self._gateway.enabled_privileged_intents

    @enabled_privileged_intents.setter
    def enabled_privileged_intents(self, intents: int) -> None:
        self._gateway.enabled_privileged_intents = intents

    # -- lifecycle and addresses ------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest.handle)
        app.router.add_get("/gateway", self._gateway.handle)
        app.router.add_get(
            "/attachments/{channel_id:\\d+}/{attachment_id:\\d+}/{filename}", self._cdn.handle
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._address.port = self._runner.addresses[0][1]
        await self.voice_server.start()

    async def close(self) -> None:
        """Close gateway connections (code 1001) and stop serving; close the bot first.

        Raises ``RuntimeError`` if a request crashed the fake (see ``internal_errors``).
        """
        await self._gateway.close()
        await self.voice_server.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.internal_errors:
            raise RuntimeError("requests crashed FakeDiscord") from self.internal_errors[0]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, where the CDN lives."""
        return self._address.base_url

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self._address.api_base

    @property
    def gateway_url(self) -> str:
        """The gateway address (without query; discord.py appends ``?v=10&encoding=json...``)."""
        return self._address.gateway_url

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base (a str) and default gateway (a ``yarl.URL``) here for
        the duration of the block; what was there before is put back on exit."""
        with (
            mock.patch.object(discord.http.Route, "BASE", self.api_base),
            mock.patch.object(
                discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url)
            ),
        ):
            yield


@contextlib.asynccontextmanager
async def serve_fake_discord() -> AsyncIterator[FakeDiscord]:
    """Start a ``FakeDiscord`` and point discord.py at it; on exit point discord.py back and
    close the fake."""
    fake = FakeDiscord()
    await fake.start()
    try:
        with fake.patch_discord():
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
