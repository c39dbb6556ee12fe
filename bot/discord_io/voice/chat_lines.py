"""Which chat messages earshot reads in a call, and each as a `ChatLine`: who wrote it, how to
call them, their words made speakable, what they attached, and the voice to read them with.

Read: messages in the call's own text chat, or in a text channel the server linked to the
call's voice channel, from members (not bots or webhooks) who did not opt out of being read;
by default only from members in the call. Not read: commands (a message typed as one, or text
starting with `/` or `!`, other bots' command prefixes), system messages, and members who could
not speak in the call themselves (server-muted, in a stage's audience, without Speak there,
timed out): earshot never speaks for someone a moderator silenced.
"""

from __future__ import annotations

import dataclasses

import discord

from bot.calls.chat_line import AttachmentKind, ChatLine, ReadingRules
from bot.discord_io.mention_names import mention_names, speakable
from bot.discord_io.voice.connection import CallChannel
from bot.errors import EmptyText
from bot.settings import Settings
from bot.speech.speakable import Names
from bot.speech.synthesis import SpeechOptions, SpeechSynthesizer
from bot.store import GuildSettings, MemberSettings, Store

READ_TYPES = (discord.MessageType.default, discord.MessageType.reply)
COMMAND_PREFIXES = ("/", "!")
UNNAMED = "Someone"
"""Said for an author whose name has nothing speakable in it (emoji only)."""


def reads_here(channel: object, call_channel_id: int, linked_voice_channel_id: int | None) -> bool:
    """Whether a message in `channel` belongs to the call in `call_channel_id`: posted in the
    voice channel's own chat, or in a text channel linked to it."""
    channel_id = getattr(channel, "id", None)
    return channel_id == call_channel_id or linked_voice_channel_id == call_channel_id


def is_chat(message: discord.Message) -> bool:
    """Whether `message` is a member's chat message: not a bot's, a webhook's, a system
    message or a command."""
    return (
        not message.author.bot
        and message.webhook_id is None
        and message.type in READ_TYPES
        and not message.content.lstrip().startswith(COMMAND_PREFIXES)
    )


class ChatLines:
    """Turns chat messages into lines to read, with the server's and the members' settings."""

    def __init__(
        self,
        client: discord.Client,
        store: Store,
        synthesizer: SpeechSynthesizer,
        settings: Settings,
    ) -> None:
        self._client = client
        self._store = store
        self._synthesizer = synthesizer
        self._settings = settings

    async def line_for(self, message: discord.Message, call: CallChannel) -> ChatLine | None:
        """`message` as a line to read in the call in `call`, or None when it is not read
        (see the module docstring)."""
        author = message.author
        if not is_chat(message) or not isinstance(author, discord.Member):
            return None
        if not may_speak_in(author, call):
            return None
        server = await self._store.guild_settings(author.guild.id)
        if server.voice_members_only and _call_of(author) != call.id:
            return None
        member = await self._store.member_settings(author.id)
        if not member.read_aloud:
            return None
        names = mention_names(self._client, author.guild, message)
        text = await _speakable_or_empty(message.content, names)
        kinds = tuple(_kind(attachment, message) for attachment in message.attachments)
        if not text and not kinds:
            return None
        return await self._line(message.id, author, text, kinds, names, server, member)

    async def spoken_for(
        self,
        author: discord.Member,
        text: str,
        line_id: int,
        *,
        voice: str | None = None,
        speed: float | None = None,
    ) -> ChatLine:
        """`text` (already speakable) to say for `author` in their call, as `/speak` does, in
        `voice` and at `speed` if given, else theirs. Raises the synthesizer's `InputError`s
        for what cannot be said (an unknown voice, a speed out of range, too long a text)."""
        names = mention_names(self._client, author.guild)
        server = await self._store.guild_settings(author.guild.id)
        member = await self._store.member_settings(author.id)
        line = await self._line(line_id, author, text, (), names, server, member)
        line = dataclasses.replace(
            line,
            voice=self._synthesizer.known_voice(voice) if voice else line.voice,
            speed=speed or line.speed,
        )
        self._synthesizer.check(text, SpeechOptions(voice=line.voice, speed=line.speed))
        return line

    async def _line(
        self,
        line_id: int,
        author: discord.Member,
        text: str,
        kinds: tuple[AttachmentKind, ...],
        names: Names,
        server: GuildSettings,
        member: MemberSettings,
    ) -> ChatLine:
        spoken_name = await _speakable_or_empty(member.spoken_name or author.display_name, names)
        return ChatLine(
            message_id=line_id,
            author_id=author.id,
            spoken_name=spoken_name or UNNAMED,
            text=text,
            attachments=kinds,
            voice=self._synthesizer.first_known(member.tts_voice, server.tts_voice),
            speed=self._synthesizer.usable_speed(member.tts_speed or 1.0),
            rules=ReadingRules(
                say_names=server.voice_say_names,
                max_chars=server.voice_max_chars or self._settings.voice_max_chars,
            ),
        )


def may_speak_in(member: discord.Member, call: CallChannel) -> bool:
    """Whether `member` could speak in `call` themselves: earshot does not speak for a member
    who is server-muted, in a stage's audience, or without Speak there (or timed out)."""
    voice = member.voice
    if voice is not None and voice.channel == call and (voice.mute or voice.suppress):
        return False
    return call.permissions_for(member).speak and not member.is_timed_out()


def _call_of(member: discord.Member) -> int | None:
    """The id of the voice channel `member` is in, if any."""
    channel = member.voice.channel if member.voice is not None else None
    return channel.id if channel is not None else None


async def _speakable_or_empty(content: str, names: Names) -> str:
    try:
        return await speakable(content, names)
    except EmptyText:
        return ""


def _kind(attachment: discord.Attachment, message: discord.Message) -> AttachmentKind:
    if message.flags.voice:
        return "voice message"
    kind = (attachment.content_type or "").split("/", 1)[0]
    if kind == "image":
        return "image"
    if kind == "video":
        return "video"
    if kind == "audio":
        return "audio"
    return "file"
