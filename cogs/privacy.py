"""/privacy: a member's own choices, the same in every server and in DMs. Every answer is
private.

Automatic transcription of their voice messages (opt out, opt in), private answers by default,
their voice, and how calls hear them: whether their messages are read aloud at all, the name
said before them, and the speed; whether their speech is captioned in calls, and whether
earshot captions every call they join. Opting out of automatic transcription also means never
being captioned.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import CAPTIONS_CONSENT_EVENT, NOT_READ_EVENT, OPTED_OUT_EVENT, EarshotBot
from bot.discord_io import replies
from bot.discord_io.autocomplete import voice_autocomplete
from bot.discord_io.names import shown_name
from bot.discord_io.settings_answers import checked_voice, tell
from bot.errors import InvalidOption
from bot.speech import speakable
from bot.store import MemberSettings

SPOKEN_NAME_CHARS = 32
"""The longest name a member may choose to be called in calls (Discord's own display names
are as long)."""


@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
class Privacy(
    commands.GroupCog,
    group_name="privacy",
    group_description="Your own earshot settings, the same everywhere",
):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="opt-out", description="Never transcribe my voice messages automatically"
    )
    async def opt_out(self, interaction: discord.Interaction[EarshotBot]) -> None:
        await self._update(interaction, opted_out=True)
        self.bot.dispatch(OPTED_OUT_EVENT, interaction.user.id)
        await tell(
            interaction,
            "Done: your voice messages will **not** be transcribed automatically, and your "
            "speech is **never** captioned in calls, in any server. Someone who can already "
            "listen to a message of yours can still ask for a private transcript with the "
            "Transcribe menu. `/privacy opt-in` undoes this.",
        )

    @app_commands.command(
        name="opt-in", description="Transcribe my voice messages automatically again"
    )
    async def opt_in(self, interaction: discord.Interaction[EarshotBot]) -> None:
        await self._update(interaction, opted_out=False)
        await tell(
            interaction,
            "Done: your voice messages are transcribed automatically again, in the channels "
            "where a server has switched it on.",
        )

    @app_commands.command(
        name="private-replies", description="Answer my own commands privately by default"
    )
    @app_commands.describe(enabled="Only you see the answers, unless you ask otherwise")
    async def private_replies(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, private_replies=enabled)
        how = "private" if enabled else "public"
        await tell(
            interaction,
            f"Your answers from `/transcribe` and `/translate` are now **{how}** by default.",
        )

    @app_commands.command(name="voice", description="My preferred voice for reading text aloud")
    @app_commands.describe(name="One of the audio service's voices")
    @app_commands.autocomplete(name=voice_autocomplete)
    async def voice(self, interaction: discord.Interaction[EarshotBot], name: str) -> None:
        if (voice := await checked_voice(interaction, self.bot.synthesizer, name)) is None:
            return
        await self._update(interaction, tts_voice=voice)
        await tell(interaction, f"Your preferred voice is now **{voice}**.")

    @app_commands.command(
        name="read-aloud", description="Read my messages aloud in the voice calls earshot is in"
    )
    @app_commands.describe(enabled="Off: your messages are never read aloud in a call")
    async def read_aloud(self, interaction: discord.Interaction[EarshotBot], enabled: bool) -> None:
        await self._update(interaction, read_aloud=enabled)
        if not enabled:
            self.bot.dispatch(NOT_READ_EVENT, interaction.user.id)
        await tell(
            interaction,
            "Your messages are now **read aloud** in the voice calls earshot is in."
            if enabled
            else "Your messages will **never** be read aloud in a voice call, in any server.",
        )

    @app_commands.command(
        name="spoken-name", description="The name said before my messages in calls"
    )
    @app_commands.describe(name="How to call you; leave empty for your display name")
    async def spoken_name(
        self,
        interaction: discord.Interaction[EarshotBot],
        name: app_commands.Range[str, 1, SPOKEN_NAME_CHARS] | None = None,
    ) -> None:
        said = speakable.spoken_name(name) if name is not None else None
        if said == "":
            error = InvalidOption(
                "That name has nothing to say once mentions, emoji and markdown go."
            )
            await replies.send_error(interaction, error)
            return
        await self._update(interaction, spoken_name=said)
        await tell(
            interaction,
            f"In calls, earshot now calls you **{shown_name(said)}**."
            if said
            else "In calls, earshot now calls you by your display name in each server.",
        )

    @app_commands.command(name="speed", description="How fast my messages are read in calls")
    @app_commands.describe(speed="0.25 (slow) to 4.0 (fast); 1.0 is normal")
    async def speed(
        self,
        interaction: discord.Interaction[EarshotBot],
        speed: app_commands.Range[float, 0.25, 4.0],
    ) -> None:
        await self._update(interaction, tts_speed=speed)
        await tell(interaction, f"Your messages are now read in calls at **{speed:g}×** speed.")

    @app_commands.command(name="captions", description="Whether my speech is captioned in calls")
    @app_commands.describe(answer="No: never captioned; yes: captioned, also where a server asks")
    @app_commands.choices(
        answer=[app_commands.Choice(name=name, value=name) for name in ("yes", "no")]
    )
    async def captions(
        self, interaction: discord.Interaction[EarshotBot], answer: app_commands.Choice[str]
    ) -> None:
        await self._update(interaction, captioned=answer.value == "yes")
        settings = await self.bot.store.member_settings(interaction.user.id)
        if answer.value == "no":
            text = (
                "Your speech will **never** be captioned in a call, in any server: earshot "
                "drops your voice before it is decoded."
            )
        elif settings.opted_out:
            text = (
                "Noted, but you opted out of transcription (`/privacy opt-out`), so your speech "
                "is still **never** captioned. `/privacy opt-in` lifts that."
            )
        else:
            text = (
                "Your speech is now **captioned** in calls where captions are on, also in "
                "servers that caption only members who said yes."
            )
        await tell(interaction, text)

    @app_commands.command(
        name="auto-captions", description="Caption every call I am in, without asking each time"
    )
    @app_commands.describe(
        enabled="earshot joins and captions your calls where the server allows captions"
    )
    async def auto_captions(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, auto_captions=enabled)
        await tell(
            interaction,
            "When you join a voice call, earshot now **joins and captions it** while you are "
            "there (where the server allows captions). It starts with the next call you join."
            if enabled
            else "earshot no longer captions your calls by itself; `/captions start` still does.",
        )

    @app_commands.command(name="show", description="Show my earshot settings")
    async def show(self, interaction: discord.Interaction[EarshotBot]) -> None:
        settings = await self.bot.store.member_settings(interaction.user.id)
        await tell(interaction, _describe_member(settings))

    async def _update(
        self, interaction: discord.Interaction[EarshotBot], **changes: object
    ) -> None:
        settings = await self.bot.store.update_member_settings(interaction.user.id, **changes)
        if {"opted_out", "captioned"} & set(changes):
            self.bot.dispatch(CAPTIONS_CONSENT_EVENT, settings)


def _describe_member(settings: MemberSettings) -> str:
    automatic = "**off** (you opted out)" if settings.opted_out else "**on** where enabled"
    answers = "privately" if settings.private_replies else "publicly"
    in_calls = "read aloud" if settings.read_aloud else "never read"
    name = shown_name(settings.spoken_name) if settings.spoken_name else "your display name"
    speed = 1.0 if settings.tts_speed is None else settings.tts_speed
    if settings.opted_out or settings.captioned is False:
        captioned = "never"
    else:
        captioned = "yes" if settings.captioned else "as each server rules"
    return "\n".join(
        [
            "**Your earshot settings**",
            f"Automatic transcription of your voice messages: {automatic}",
            f"Your commands answer: **{answers}**",
            f"Preferred voice: **{settings.tts_voice or 'the server default'}**",
            f"Your messages in voice calls: **{in_calls}**",
            f"Name said in calls: **{name}**",
            f"Speed in calls: **{speed:g}×**",
            f"Your speech captioned in calls: **{captioned}**",
            f"Captions whenever you join a call: **{'on' if settings.auto_captions else 'off'}**",
        ]
    )


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Privacy(bot))
