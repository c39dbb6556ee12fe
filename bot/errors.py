"""Every failure a member can cause or meet, each with the one sentence they are shown.

The words a member reads live here and nowhere else. `str(error)` is the detail for the log
(never a secret); `error.user_message` is the reply.
"""

from __future__ import annotations

import datetime
import math

from bot.text import clock


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class EarshotError(Exception):
    """A failure with a reply fit for the member who asked."""

    @property
    def user_message(self) -> str:
        return "Something went wrong on my side. Please try again."


# Input the member gave us ------------------------------------------------------------------


class InputError(EarshotError):
    """The member's input cannot be used; retrying the same input will not help."""


class NoAudio(InputError):
    @property
    def user_message(self) -> str:
        return "That message has no voice message or audio file to work with."


class EmptyAudio(InputError):
    @property
    def user_message(self) -> str:
        return "That file is empty."


class NotAudio(InputError):
    @property
    def user_message(self) -> str:
        return "That file is not audio I can read. Voice messages and common audio files work."


class CorruptAudio(InputError):
    @property
    def user_message(self) -> str:
        return "That audio file is damaged or incomplete, so I can't transcribe it."


class AudioTooLarge(InputError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes exceeds the limit of {limit} bytes")
        self.size, self.limit = size, limit

    @property
    def user_message(self) -> str:
        return f"That file is too large: the limit is {_megabytes(self.limit)}."


class AudioTooLong(InputError):
    """`at_least`: decoding stopped once past the limit, so `duration` is a lower bound."""

    def __init__(self, duration: float, limit: float, *, at_least: bool = False) -> None:
        over = "over " if at_least else ""
        super().__init__(f"{over}{duration:.1f} s exceeds the limit of {limit:.0f} s")
        self.duration, self.limit, self.at_least = duration, limit, at_least

    @property
    def user_message(self) -> str:
        if self.at_least:
            return f"That recording is longer than the limit of {clock(self.limit)}."
        return f"That recording is {clock(self.duration)} long; the limit is {clock(self.limit)}."


class AudioTooCostly(InputError):
    """Decoding took far more work per second of audio than any common format needs."""

    def __init__(self, cpu_seconds: float, audio_seconds: float) -> None:
        super().__init__(
            f"decoding took {cpu_seconds:.2f} s of CPU for {audio_seconds:.2f} s of audio"
        )

    @property
    def user_message(self) -> str:
        return (
            "That audio file takes too much work to decode (an unusual format, or very many "
            "channels). Voice messages and common audio files work."
        )


class DownloadFailed(InputError):
    @property
    def user_message(self) -> str:
        return "I couldn't download that file from Discord. It may have been deleted."


class EmptyText(InputError):
    @property
    def user_message(self) -> str:
        return (
            "There is nothing to read aloud: no words are left "
            "once mentions, emoji and links are set aside."
        )


class TextTooLong(InputError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"{length} characters exceeds the limit of {limit}")
        self.length, self.limit = length, limit

    @property
    def user_message(self) -> str:
        return f"That text is {self.length:,} characters long; I can read up to {self.limit:,}."


class TextFileTooLarge(InputError):
    def __init__(self, size: int, limit_chars: int) -> None:
        super().__init__(f"text file of {size} bytes; limit {limit_chars} characters")
        self.limit_chars = limit_chars

    @property
    def user_message(self) -> str:
        return f"That text file is too large; I can read up to {self.limit_chars:,} characters."


class NotText(InputError):
    @property
    def user_message(self) -> str:
        return "That file is not plain text I can read aloud. Attach a UTF-8 .txt file."


class InvalidOption(InputError):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply

    @property
    def user_message(self) -> str:
        return self.reply


class NotAnswerableChannel(InputError):
    @property
    def user_message(self) -> str:
        return "I can't transcribe automatically in this kind of channel; pick a text channel."


class DurationOverLimit(InputError):
    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"{seconds:.0f} s is over the bot's limit of {limit:.0f} s")
        self.limit = limit

    @property
    def user_message(self) -> str:
        return (
            f"That is longer than this bot allows: at most {clock(self.limit)} "
            f"({self.limit:.0f} seconds)."
        )


class UploadTooLarge(InputError):
    """What earshot made is larger than Discord accepts as an attachment here (10 MiB without
    server boosts and in DMs, more in boosted servers)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"an upload of {size} bytes exceeds the limit of {limit} bytes")
        self.size, self.limit = size, limit

    @property
    def user_message(self) -> str:
        return (
            f"The file I made is {_megabytes(self.size)}, more than the {_megabytes(self.limit)} "
            "Discord accepts here. A voice message, mp3 or ogg is far smaller than wav or flac; "
            "shorter text or a shorter recording helps too."
        )


# Using the bot -----------------------------------------------------------------------------


class NotAllowed(EarshotError):
    """The member lacks a Discord permission the command needs."""

    def __init__(self, permission: str) -> None:
        super().__init__(f"missing the {permission} permission")
        self.permission = permission

    @property
    def user_message(self) -> str:
        return f"You need the **{self.permission}** permission to do that."


class TooFast(EarshotError):
    """The member's per-member command cooldown has not run out."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"on cooldown for {retry_after:.1f} s")
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        return f"You're going a bit fast — try again in {math.ceil(self.retry_after)} s."


class TooManyJobs(EarshotError):
    """The member already has as many jobs under way as one member may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"already has {limit} jobs under way")
        self.limit = limit

    @property
    def user_message(self) -> str:
        requests = "request" if self.limit == 1 else "requests"
        return (
            f"You already have {self.limit} {requests} under way, as many as one member can "
            "have at once. Ask again when one is done."
        )


BUDGET_UNITS = {"audio": ("minute", "of audio"), "speech": ("character", "of speech")}
BUDGET_DAILY = {"day": "daily", "month": "monthly"}
BUDGET_EACH = {"day": "a day", "month": "a month"}


def budget_number(resource: str, amount: float) -> str:
    """`amount` of `resource` as a number: whole characters, minutes to a hundredth."""
    if resource == "speech":
        return f"{amount:,.0f}"
    return f"{amount:,.2f}".rstrip("0").removesuffix(".")


def budget_amount(resource: str, amount: float) -> str:
    """`amount` of `resource` in its unit: "1 minute of audio", "20 characters of speech"."""
    number = budget_number(resource, amount)
    unit, of_what = BUDGET_UNITS[resource]
    return f"{number} {unit}{'' if number == '1' else 's'} {of_what}"


def budget_named(resource: str, period: str, limit: float) -> str:
    """ "daily budget of 60 minutes of audio"."""
    return f"{BUDGET_DAILY[period]} budget of {budget_amount(resource, limit)}"


def budget_renewal(period: str, renews: datetime.datetime) -> str:
    """When a `period`'s budget renews, in words: the day's at midnight, the month's on the 1st."""
    if period == "day":
        return "at midnight UTC"
    return f"on {renews:%-d %B} (UTC)"


class BudgetSpent(EarshotError):
    """The server's budget for a `period` has not `asked` left of `resource`: `used` of
    `limit` (or `asked` is more than `limit` itself: waiting for the renewal will not help).
    `can_raise`: the operator's ceiling lets the server's admins raise it."""

    def __init__(
        self,
        resource: str,
        period: str,
        *,
        limit: float,
        used: float,
        asked: float,
        renews: datetime.datetime,
        can_raise: bool,
    ) -> None:
        super().__init__(
            f"{resource} budget per {period}: {used:g} of {limit:g} used, {asked:g} asked"
        )
        self.resource, self.period = resource, period
        self.limit, self.used, self.asked = limit, used, asked
        self.renews, self.can_raise = renews, can_raise

    @property
    def user_message(self) -> str:
        budget = budget_named(self.resource, self.period, self.limit)
        if self.asked > self.limit:
            said = (
                f"That needs {budget_amount(self.resource, self.asked)}, more than this "
                f"server's whole {budget}."
            )
        elif self.used >= self.limit:
            said = f"This server has used up its {budget}."
        else:
            left = budget_number(self.resource, self.limit - self.used)
            said = (
                f"That needs {budget_amount(self.resource, self.asked)}, but this server has "
                f"only {left} left of its {budget}."
            )
        if self.asked <= self.limit:
            said += f" It renews {budget_renewal(self.period, self.renews)}."
        if self.can_raise:
            said += " A server admin can raise it with /settings budget."
        return said


class BudgetOverCeiling(InputError):
    """A server's admin asked for a budget above the operator's ceiling."""

    def __init__(self, resource: str, period: str, *, limit: float, ceiling: float) -> None:
        super().__init__(f"{resource} budget per {period}: {limit:g} asked, ceiling {ceiling:g}")
        self.resource, self.period, self.limit, self.ceiling = resource, period, limit, ceiling

    @property
    def user_message(self) -> str:
        return (
            f"The most this server can have is {budget_amount(self.resource, self.ceiling)} "
            f"{BUDGET_EACH[self.period]}, the limit earshot's operator set; nothing changed."
        )


class ShuttingDown(EarshotError):
    """earshot is stopping: new work is refused, and work it could not finish is given up."""

    @property
    def user_message(self) -> str:
        return "earshot is restarting and couldn't finish this. Please try again in a minute."


class VoiceGone(EarshotError):
    """earshot is out of the voice call for good (disconnected, moved out, or it left), so
    nothing more can be played there."""

    @property
    def user_message(self) -> str:
        return "I'm no longer in that voice channel."


# The audio provider ------------------------------------------------------------------------


class ProviderError(EarshotError):
    """The audio provider failed. Raised by providers only; HTTP failures are mapped once, in
    providers/http_errors.py."""

    retry_after: float | None = None
    """Seconds the provider asked us to wait before trying again, when it said so."""


class ProviderMisconfigured(ProviderError):
    """The provider refused our credentials or does not know the model or endpoint."""

    def __init__(self, detail: str, *, setting: str) -> None:
        super().__init__(f"{detail}; check the setting {setting}")
        self.setting = setting

    @property
    def user_message(self) -> str:
        return (
            "I'm not set up correctly to reach my audio service. "
            "The server admin can find the cause in the bot's log."
        )


class ProviderRejectedInput(ProviderError):
    """The provider refused this particular audio or request (HTTP 400, 413, 415, 422)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def user_message(self) -> str:
        return f"The audio service could not process this audio: {self.detail}"


class ProviderBlocked(ProviderRejectedInput):
    """The service's safety filters refused the request or withheld the answer; the same input
    will be refused again."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"blocked by the service's safety filters ({reason})")
        self.reason = reason

    @property
    def user_message(self) -> str:
        return "The audio service's safety filters blocked this request, so I have no answer."


_INCOMPLETE_REPLIES = {
    "MAX_TOKENS": (
        "The audio service's answer was cut off for length. A shorter recording or text may work."
    ),
    "RECITATION": (
        "The audio service withheld its answer because it would have repeated copyrighted material."
    ),
}
"""Replies for the finish reasons a member can act on; any other reason is named as it is."""


class ProviderIncomplete(ProviderError):
    """The service ended its answer without a usable result: a finish reason such as
    MAX_TOKENS, RECITATION or OTHER, or an answer with nothing usable in it."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the answer ended without a usable result ({reason})")
        self.reason = reason

    @property
    def user_message(self) -> str:
        default = f"The audio service gave no usable answer ({self.reason}). Please try again."
        return _INCOMPLETE_REPLIES.get(self.reason, default)


class ProviderRateLimited(ProviderError):
    @property
    def user_message(self) -> str:
        return "The audio service is busy right now. Please try again in a minute."


class ProviderUnavailable(ProviderError):
    @property
    def user_message(self) -> str:
        return "The audio service is unavailable right now. Please try again later."


class ProviderTimeout(ProviderError):
    @property
    def user_message(self) -> str:
        return "The audio service took too long to answer. Please try again later."


class ProviderBadAudio(ProviderError):
    """The provider answered with something that is not sound audio."""

    @property
    def user_message(self) -> str:
        return "The audio service sent back audio I couldn't read. Please try again."


class ProviderUnsupported(ProviderError):
    """The configured provider lacks a capability ("translation", "speech", ...)."""

    def __init__(self, capability: str) -> None:
        super().__init__(f"the provider offers no {capability}")
        self.capability = capability

    @property
    def user_message(self) -> str:
        return (
            f"{self.capability.capitalize()} isn't available with the audio service "
            "this bot is set up with."
        )


# Voice channels ----------------------------------------------------------------------------


class NotInVoiceChannel(EarshotError):
    """The member asked for something in their call, but is in no voice channel here."""

    @property
    def user_message(self) -> str:
        return "Join a voice channel first, then ask me again."


class NotInCall(EarshotError):
    """A command for earshot's call, while earshot is in no voice channel of the server."""

    @property
    def user_message(self) -> str:
        return "I'm not in a voice channel here. `/voice join` brings me into yours."


class InAnotherCall(EarshotError):
    """A bot has one voice connection per server (Discord's rule), and it is in use."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"already in voice channel {channel!r}")
        self.channel = channel

    @property
    def user_message(self) -> str:
        return (
            f"I'm already reading in **{self.channel}**; Discord lets me be in one voice "
            "channel per server. `/voice leave` there first."
        )


class CannotJoinVoice(EarshotError):
    """earshot lacks a permission it needs in the voice channel."""

    def __init__(self, permission: str, channel: str) -> None:
        super().__init__(f"missing {permission} in voice channel {channel!r}")
        self.permission, self.channel = permission, channel

    @property
    def user_message(self) -> str:
        return (
            f"I can't join **{self.channel}**: my role needs the **{self.permission}** "
            "permission there."
        )


class VoiceChannelFull(EarshotError):
    def __init__(self, channel: str, limit: int) -> None:
        super().__init__(f"voice channel {channel!r} is at its limit of {limit}")
        self.channel, self.limit = channel, limit

    @property
    def user_message(self) -> str:
        return (
            f"**{self.channel}** is full ({self.limit} people). Someone with Move Members can "
            "drag me in, or raise the limit."
        )


class VoiceJoinTimeout(EarshotError):
    """Discord did not complete the voice connection in time."""

    @property
    def user_message(self) -> str:
        return "Discord didn't let me into the voice channel in time. Please try again."


class CallQueueFull(EarshotError):
    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} lines already wait in the call")
        self.waiting = waiting

    @property
    def user_message(self) -> str:
        return (
            f"{self.waiting} messages are already waiting to be read in the call. "
            "Try again once they have been read, or ask someone with Manage Messages to "
            "`/voice clear`."
        )


class MayNotSpeakThere(EarshotError):
    """The member could not speak in the call themselves (server-muted, in a stage's audience,
    without Speak, timed out), so earshot does not speak for them there."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"may not speak in {channel!r}")
        self.channel = channel

    @property
    def user_message(self) -> str:
        return (
            f"You can't speak in **{self.channel}** right now (muted, in the audience, or "
            "without the Speak permission), so I won't speak for you there either."
        )


# Captions of calls -------------------------------------------------------------------------


class CaptionsNotAllowed(EarshotError):
    """The server switched captions off (`/settings captions allowed`)."""

    @property
    def user_message(self) -> str:
        return "This server has switched captions off."


class CaptionsRoleNeeded(EarshotError):
    """The server lets only members with a role start or stop captions."""

    def __init__(self, role: str) -> None:
        super().__init__(f"needs the role {role!r} for captions")
        self.role = role

    @property
    def user_message(self) -> str:
        return f"In this server, only members with the **{self.role}** role start captions."


class CaptionsNotRunning(EarshotError):
    """`/captions stop` where nothing is being captioned."""

    @property
    def user_message(self) -> str:
        return "Nothing is being captioned in this server right now."


class CaptionsFallingBehind(EarshotError):
    """More utterances wait to be captioned than a call keeps: new ones are skipped."""

    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} utterances already wait to be captioned")
        self.waiting = waiting

    @property
    def user_message(self) -> str:
        return "captions are falling behind, so some speech was skipped"
