"""Several earshot processes sharing one PostgreSQL database, against the loopback Discord:
each is a bot of its own (its own gateway sessions, store pool, queues and data directory) in
this test process. A voice message that two of them see is answered once; shards split the
servers between them; one of them syncs the commands."""

from __future__ import annotations

import asyncio

import discord

from bot.app import STARTUP_CHECK
from bot.model import AudioOrigin, CacheKey, Transcript, TranscriptionResult
from bot.store import Store
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord_payloads import Payload
from tests.harness import (
    CHANNEL_MESSAGES,
    EarshotWorld,
    add_server,
    bot_settings,
    earshot_process,
    earshot_world,
)

COMMANDS = r"/applications/\d+/commands"
TRANSCRIBED = TranscriptionResult(
    Transcript(text="Hello.", language="english", duration=1.0), duration=1.0, language="english"
)


def shard_of(server_id: int | str, shard_count: int) -> int:
    """The shard Discord sends a server's events to."""
    return (int(server_id) >> 22) % shard_count


async def server_on_shard(
    discord: FakeDiscord, member: Payload, admin: Payload, shard: int, shard_count: int
) -> tuple[Payload, Payload]:
    """A new server on `shard` (`add_server`: the server and its channel). Server ids carry the
    millisecond they were made, so new servers land on one shard after another as the clock
    moves; those on other shards stay, unused."""
    for attempt in range(1000):
        guild, channel = add_server(discord, member, admin, f"Shard {shard}, try {attempt}")
        if shard_of(guild["id"], shard_count) == shard:
            return guild, channel
        await asyncio.sleep(0.001)
    raise AssertionError(f"no server landed on shard {shard}")


async def test_two_processes_that_both_see_each_voice_message_answer_it_once(
    discord_fake, audio_api, tmp_path, postgres_url
):
    def process(name: str):
        return bot_settings(audio_api, tmp_path / name, database_url=postgres_url, shard_count=1)

    async with (
        earshot_world(discord_fake, audio_api, process("first")) as world,
        earshot_process(discord_fake, process("second")) as second,
    ):
        await world.bot.store.set_channel_auto_transcribe(
            int(world.guild["id"]), int(world.channel["id"]), True
        )
        audio_api.latency = 0.02
        seen_by_second: list[int] = []

        async def seen(message: discord.Message) -> None:
            if message.flags.voice:
                seen_by_second.append(message.id)

        second.add_listener(seen, "on_message")
        messages = [world.voice_message(seconds=0.5 + i / 100) for i in range(20)]
        await asyncio.gather(*(world.post(message) for message in messages))

        await discord_fake.wait_for("POST", CHANNEL_MESSAGES, count=20, timeout=60)
        await world.settled()
        assert sorted(seen_by_second) == sorted(int(message["id"]) for message in messages)
        for message in messages:
            [reply] = world.replies_to(message)
            assert reply.status == 200
        assert len(audio_api.uploads) == 20


async def test_shards_split_the_servers_and_one_process_syncs_the_commands(
    discord_fake, audio_api, tmp_path, postgres_url
):
    def process(name: str, shard: int):
        return bot_settings(
            audio_api,
            tmp_path / name,
            database_url=postgres_url,
            shard_count=2,
            shard_ids=(shard,),
        )

    member = discord_fake.add_user(username="alice")
    admin = discord_fake.add_user(username="ada")
    servers = [await server_on_shard(discord_fake, member, admin, shard, 2) for shard in (0, 1)]
    async with (
        earshot_process(discord_fake, process("first", 0)) as first,
        earshot_process(discord_fake, process("second", 1)) as second,
    ):
        worlds = [
            EarshotWorld(discord_fake, audio_api, bot, guild, channel, member, admin)
            for bot, (guild, channel) in zip((first, second), servers, strict=True)
        ]
        for world in worlds:
            await world.bot.store.set_channel_auto_transcribe(
                int(world.guild["id"]), int(world.channel["id"]), True
            )
        messages = [(world, world.voice_message()) for world in worlds]
        for world, message in messages:
            await world.post(message)
        await discord_fake.wait_for("POST", CHANNEL_MESSAGES, count=2, timeout=30)
        await worlds[0].settled()

        for world, message in messages:
            [reply] = world.replies_to(message)
            assert reply.status == 200
        for bot, shard in ((first, 0), (second, 1)):
            served = {guild.id for guild in bot.guilds}
            assert int(servers[shard][0]["id"]) in served
            assert {shard_of(guild_id, 2) for guild_id in served} == {shard}
        assert (first.shard_ids, second.shard_ids) == ([0], [1])
    assert len(discord_fake.find("PUT", COMMANDS)) == 1


async def test_another_shards_calls_to_rejoin_are_left_to_its_process(world):
    """At start-up a process rejoins the calls it was in; those of servers it does not serve
    (another shard's, another process's to rejoin) stay remembered."""
    store = world.bot.store
    await store.remember_call(guild_id=4242, voice_channel_id=4343, text_channel_id=None)
    await world.bot.calls.rejoin_remembered(world.bot)
    assert [call.guild_id for call in await store.remembered_calls()] == [4242]


async def test_each_process_checks_at_start_up_only_the_messages_of_its_shards(
    discord_fake, audio_api, tmp_path, postgres_url
):
    """Messages something was derived from, in a server of each shard and in a direct message:
    the process of shard 0 checks its server's and the direct message, the other its own."""
    member = discord_fake.add_user(username="alice")
    admin = discord_fake.add_user(username="ada")
    servers = [await server_on_shard(discord_fake, member, admin, shard, 2) for shard in (0, 1)]

    def message_with_audio(channel: Payload, guild: Payload | None) -> tuple[Payload, int | None]:
        """A message with audio, and its server's id."""
        audio = discord_fake.add_attachment(channel["id"], "note.ogg", b"OggS", "audio/ogg")
        guild_id = guild["id"] if guild else None
        message = discord_fake.make_message(
            channel["id"], member, attachments=[audio], guild_id=guild_id
        )
        return message, int(guild_id) if guild_id else None

    in_servers = [message_with_audio(channel, guild) for guild, channel in servers]
    direct, _ = message_with_audio(discord_fake.add_dm_channel(member), None)
    store = await Store.open(tmp_path, database_url=postgres_url, cache_ttl=3600)
    try:
        for index, (message, guild_id) in enumerate([*in_servers, (direct, None)]):
            origin = AudioOrigin(
                int(message["channel_id"]),
                int(message["id"]),
                int(message["attachments"][0]["id"]),
                guild_id=guild_id,
            )
            await store.cache_transcription(
                CacheKey(f"{index:02d}" * 32, "{}"), TRANSCRIBED, [origin]
            )
    finally:
        await store.close()

    checked_by: dict[int, set[str]] = {}
    for shard in (0, 1):
        settings = bot_settings(
            audio_api,
            tmp_path / f"shard-{shard}",
            database_url=postgres_url,
            shard_count=2,
            shard_ids=(shard,),
        )
        discord_fake.requests.clear()
        async with earshot_process(discord_fake, settings) as bot:
            await bot.background[STARTUP_CHECK]
        checked = discord_fake.find("GET", rf"{CHANNEL_MESSAGES}/\d+")
        checked_by[shard] = {request.path.rsplit("/", 1)[1] for request in checked}
    assert checked_by == {
        0: {in_servers[0][0]["id"], direct["id"]},
        1: {in_servers[1][0]["id"]},
    }
