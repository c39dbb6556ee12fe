"""The one place earshot reads its configuration: environment variables and `.env`.

Every setting is documented in `.env.example` and the README. `load_settings()` turns a
validation failure into `SettingsError`, one line per bad setting that names the environment
variable, so start-up never ends in a traceback and never echoes a secret's value.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024
ProviderName = Literal["openai", "gemini", "scaigrid", "local"]
BaseUrls = Annotated[tuple[AnyHttpUrl, ...], NoDecode]
"""One base URL, or several separated by commas (servers of one service, balanced)."""
BALANCING_PROVIDER: Final = "openai"
"""The one protocol whose base URL may list several servers."""
LOCAL: Final = "local"
"""The embedded engine: needs no key and no address."""
PIPER_VOICE_NAME: Final = re.compile(r"[a-z]{2,3}_[A-Z]{2}-[A-Za-z0-9_]+-(?:x_low|low|medium|high)")
"""A voice of Piper's catalogue, language_REGION-dataset-quality: `en_US-lessac-medium`."""
NO_PIPER_VOICE: Final = "none"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME: Final = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
"""A host name: dot-separated labels of letters, digits and inner hyphens (`localhost`)."""
BUDGET_NAMES: Final = (
    "audio_minutes_per_day",
    "audio_minutes_per_month",
    "speech_chars_per_day",
    "speech_chars_per_month",
)
"""The budgets, each a `BUDGET_<name>` default and a `BUDGET_MAX_<name>` ceiling."""


DEFAULT_HEARTBEAT_SECONDS: Final = 15.0


class SettingsError(Exception):
    """The configuration is missing or invalid; the message names each bad setting."""


class Settings(BaseSettings):
    """earshot's configuration. Field names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    discord_token: SecretStr | None = None
    """The bot token; required to connect to Discord, not for the offline CLI commands."""

    audio_provider: ProviderName = LOCAL
    """Which wire protocol the audio service speaks: OpenAI-compatible, Gemini-native or
    ScaiGrid's native; or the embedded engine (local). Unset: openai when AUDIO_API_KEY is set,
    else local."""
    audio_base_url: BaseUrls = ()
    """Base of the audio API; the provider appends its paths. Empty: the provider's home
    (https://api.dgrid.ai for openai and gemini, https://scaigrid.scailabs.ai for scaigrid).
    With openai, several servers separated by commas: each call goes to the least busy, and
    one that fails is left out for ENDPOINT_COOLDOWN_SECONDS."""
    audio_api_key: SecretStr | None = Field(default=None, validate_default=True)
    """Bearer key for the audio API; required by every provider but local, which ignores it."""
    fallback_provider: ProviderName | None = None
    """A second service, used when the first is unavailable (5xx or timeouts after retries);
    local needs neither address nor key."""
    fallback_base_url: BaseUrls = ()
    """Like AUDIO_BASE_URL, for the fallback."""
    fallback_api_key: SecretStr | None = None
    transcription_model: Annotated[str, Field(min_length=1)] | None = None
    """None: the provider's default (whisper-1 for openai, gemini-2.5-flash for gemini,
    openai/whisper-1 for scaigrid)."""
    translation_model: Annotated[str, Field(min_length=1)] | None = None
    speech_model: Annotated[str, Field(min_length=1)] | None = None
    """Text-to-speech model; for OpenAI, gpt-4o-mini-tts offers 13 voices and instructions;
    for Gemini, the default is gemini-2.5-flash-preview-tts."""
    speech_voice: Annotated[str, Field(min_length=1)] | None = None
    """The voice used when a member picks none; None: the provider's first voice."""
    scaigrid_oai_translation: bool = False
    """With AUDIO_PROVIDER=scaigrid: translate through ScaiGrid's OpenAI-compatible twin
    (`/oai/v1/audio/translations`), as its native API has no translation; False: translation
    is reported as not available."""

    max_download_bytes: Annotated[int, Field(gt=0)] = 500 * MIB
    """Largest attachment earshot downloads; bigger files are refused before downloading."""
    max_audio_seconds: Annotated[float, Field(gt=0)] = 3 * 60 * 60
    """Longest recording earshot transcribes."""
    max_jobs: Annotated[int, Field(ge=1, le=256)] = 64
    """Jobs (transcriptions, translations, speech) running at once bot-wide; others queue. A
    guard for this machine's memory and connections, not for cost (budgets are)."""
    max_jobs_per_member: Annotated[int, Field(ge=1, le=256)] = 2
    """Jobs of one member (their commands, and the automatic transcriptions of their voice
    messages) queued or running at once; a command beyond it is refused with a reply, an
    automatic transcription waits for one of them to end."""
    chunk_seconds: Annotated[float, Field(ge=30)] = 600.0
    """Recordings longer than this are cut at quiet points into chunks of about this length
    (shorter when the provider's upload limit needs it: see `bot.transcription.cut_plan`)."""
    chunk_parallelism: Annotated[int, Field(ge=1, le=64)] = 16
    """How many chunks of one recording are with the provider at once: each is asked as soon
    as it is cut, so a recording of up to this many chunks is answered in one round."""
    max_speech_chars: Annotated[int, Field(gt=0)] = 20_000
    """Longest text earshot speaks; longer text is split for the provider and joined again."""
    speech_parallelism: Annotated[int, Field(ge=1, le=16)] = 3
    """How many pieces of one long text are synthesized at once."""

    voice_queue_limit: Annotated[int, Field(ge=1, le=200)] = 20
    """Messages waiting to be read in one call; more are dropped, and how many is said once
    earshot catches up."""
    voice_max_chars: Annotated[int, Field(ge=20, le=2000)] = 300
    """Longest message read in a call, in characters, unless a server sets its own; a longer
    one is cut at a word and ends with "and more"."""
    voice_idle_seconds: Annotated[float, Field(ge=0, le=86_400)] = 900.0
    """earshot leaves a call after this many seconds with nothing read; 0: never for that."""
    voice_alone_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """earshot leaves a call this many seconds after the last human left it (if none came
    back); 0: at once."""

    budget_audio_minutes_per_day: Annotated[int, Field(ge=0)] = 0
    """Minutes of audio each server may have transcribed and translated per UTC day, unless
    it sets its own (`/settings budget`); 0: no budget. So for the next three."""
    budget_audio_minutes_per_month: Annotated[int, Field(ge=0)] = 0
    """Minutes of audio per UTC calendar month, for each server."""
    budget_speech_chars_per_day: Annotated[int, Field(ge=0)] = 0
    """Characters of text spoken per UTC day, for each server."""
    budget_speech_chars_per_month: Annotated[int, Field(ge=0)] = 0
    """Characters of text spoken per UTC calendar month, for each server."""
    budget_max_audio_minutes_per_day: Annotated[int, Field(ge=0)] = 0
    """The most a server may raise its own daily audio budget to; 0: the default above is
    also the ceiling (a ceiling without a default is the default too). So for the next three."""
    budget_max_audio_minutes_per_month: Annotated[int, Field(ge=0)] = 0
    budget_max_speech_chars_per_day: Annotated[int, Field(ge=0)] = 0
    budget_max_speech_chars_per_month: Annotated[int, Field(ge=0)] = 0

    http_connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    http_timeout: Annotated[float, Field(gt=0)] = 120.0
    """Read/write timeout of one HTTP request, in seconds."""
    provider_max_attempts: Annotated[int, Field(ge=1, le=10)] = 4
    """How many times one provider call is tried, the first included."""
    provider_retry_budget: Annotated[float, Field(gt=0, le=600)] = 240.0
    """Seconds after which no new retry starts; keeps replies inside Discord's 15-minute window."""
    endpoint_cooldown_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """With several servers in a base URL: how long one that failed (unreachable, timed out,
    5xx) is left out before it is tried again."""

    command_cooldown_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0
    """Each member may run one transcription command per this many seconds; 0 turns it off."""
    max_auto_jobs_per_guild: Annotated[int, Field(ge=1, le=100)] = 3
    """Automatic transcriptions running at once in one server; more wait their turn."""
    max_concurrent_provider_calls: Annotated[int, Field(ge=1, le=1000)] = 64
    """Provider calls in flight at once across the whole bot; more wait their turn. The knob
    for the provider's own rate limit (requests in flight it accepts), not a cost control: a
    call that waits costs the same later."""
    transcript_cache_ttl_seconds: Annotated[float, Field(ge=0)] = 24 * 60 * 60
    """How long a transcript is reused for the same audio; 0 turns the cache off."""
    startup_check_days: Annotated[float, Field(ge=0, le=365)] = 7.0
    """At start-up, messages answered automatically in the last this many days are checked in
    the background for deletions and edits made while earshot was away (the sources of cached
    transcripts always are)."""

    local_whisper_model: Annotated[str, Field(min_length=1)] = "base"
    """The local engine's speech-to-text model: a Whisper size (tiny, base, small, medium,
    large-v3, turbo, …; `.en` ones understand English only), downloaded once into
    LOCAL_MODEL_CACHE, or a directory holding a CTranslate2 Whisper model, never downloaded."""
    local_model_cache: Path | None = None
    """Where Whisper models named by size and Piper voices by name are downloaded and kept;
    None: DATA_DIR/models."""
    local_beam_size: Annotated[int, Field(ge=1, le=10)] = 1
    """Beam search width of local transcription. 1 (greedy) is the fastest, and with Whisper
    base as accurate as 5 on earshot's test set (`make bench`); wider beams may help larger
    models."""
    local_inference_slots: Annotated[int, Field(ge=1, le=64)] | None = None
    """Local inference jobs running at once; more wait their turn. None: one per CPU core."""
    local_threads_per_job: Annotated[int, Field(ge=1, le=256)] | None = None
    """CPU threads each local inference job computes on. None: every core, so a lone job
    finishes soonest, and jobs running at once share the cores."""
    local_piper_voice: str | Path | None = "en_US-lessac-medium"
    """The local engine's natural voice, offered before eSpeak NG's (and so the default): a
    Piper voice name (`en_US-lessac-medium`), downloaded once into LOCAL_MODEL_CACHE, or the
    path of a voice's .onnx file with its .onnx.json beside it, never downloaded. None (set
    empty or `none`): eSpeak NG's voices only, as when a named voice cannot be downloaded."""

    serve_api_key: SecretStr | None = None
    """The Bearer key `python -m bot serve` requires of every request; None (or empty): none,
    for a server reachable only from machines that may use it."""
    serve_max_upload_bytes: Annotated[int, Field(gt=0)] = 25 * MIB
    """Largest file `python -m bot serve` takes for a transcription or translation; OpenAI's
    limit, which earshot's openai provider keeps its uploads under."""

    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=600)] = 6.0
    """On SIGTERM/SIGINT, how long work under way may take to finish before it is given up;
    the process exits at most 3 s later. Keep it 4 s under the supervisor's stop timeout
    (Docker: 10 s unless `--stop-timeout` says otherwise)."""
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    """The port of the health and metrics endpoints (`/healthz`, `/metrics`); 0 (or unset):
    no endpoints, nothing listens."""
    metrics_host: str = "127.0.0.1"
    """The address those endpoints listen on: this machine only by default; a container sets
    0.0.0.0 so that its published port reaches them."""

    data_dir: Path = Path("data")
    """Where earshot keeps its state: the database (unless DATABASE_URL names one) and the
    synced command set's fingerprint."""
    database_url: SecretStr | None = None
    """The PostgreSQL database to keep the state in, which several earshot processes can share
    (postgresql://user:password@host:5432/earshot); None (unset or empty): SQLite in DATA_DIR.
    Secret, as it may hold a password."""
    shard_count: Annotated[int, Field(ge=1)] | None = None
    """How many shards the bot's servers are split into (Discord requires one per 2,500
    servers); None: as many as Discord recommends."""
    process_heartbeat_seconds: Annotated[float, Field(ge=0.1, le=300)] = DEFAULT_HEARTBEAT_SECONDS
    """How often each process says, in the database, that it is alive; one silent for four
    of these counts as gone, and the voice messages it was answering are adopted by a live one
    (every two of these)."""
    shard_ids: Annotated[tuple[int, ...], NoDecode] = ()
    """The shards this process runs, of SHARD_COUNT (e.g. `0,1`); empty: all of them. Several
    processes each running some share one state: DATABASE_URL."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _local_unless_a_key_is_set(cls, values: Any) -> Any:
        """An unset AUDIO_PROVIDER means openai when AUDIO_API_KEY is set, else local."""
        if isinstance(values, dict) and not values.get("audio_provider"):
            chosen = "openai" if values.get("audio_api_key") else LOCAL
            values = {**values, "audio_provider": chosen}
        return values

    @field_validator("serve_api_key")
    @classmethod
    def _empty_key_is_none(cls, key: SecretStr | None) -> SecretStr | None:
        return key if key and key.get_secret_value() else None

    @field_validator("audio_base_url", "fallback_base_url", "shard_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """`http://a:8000, http://b:8000` or `0,1` → both; blank → none."""
        if isinstance(value, str):
            return tuple(url.strip() for url in value.split(",") if url.strip())
        return value

    @field_validator("audio_api_key")
    @classmethod
    def _hosted_providers_need_a_key(
        cls, key: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        provider = info.data.get("audio_provider")
        if provider not in (None, LOCAL) and not (key and key.get_secret_value()):
            raise ValueError(
                f"required with AUDIO_PROVIDER={provider}; without a key, leave AUDIO_PROVIDER "
                "unset (or set it to local) for the embedded engine"
            )
        return key

    @field_validator("local_piper_voice", mode="before")
    @classmethod
    def _piper_voice_name_or_file(cls, value: Any) -> Any:
        """A name stays a `str`, a file becomes a `Path`, empty or `none` is None."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        if value.lower() in ("", NO_PIPER_VOICE):
            return None
        if PIPER_VOICE_NAME.fullmatch(value):
            return value
        if value.endswith(".onnx"):
            return Path(value)
        raise ValueError(
            "a Piper voice name (en_US-lessac-medium), the path of a voice's .onnx file, "
            f"or {NO_PIPER_VOICE}"
        )

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: Any) -> Any:
        """Empty is None; anything else is a postgresql:// (or postgres://) URL."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str) or not value.strip():
            return None
        scheme = value.strip().partition("://")[0]
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(
                "a PostgreSQL URL such as postgresql://user:password@host:5432/earshot "
                "(unset: SQLite in DATA_DIR)"
            )
        return value.strip()

    @model_validator(mode="after")
    def _shards_of_the_count(self) -> Settings:
        if not self.shard_ids:
            return self
        if self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT, the number of shards they are of")
        wrong = [shard for shard in self.shard_ids if not 0 <= shard < self.shard_count]
        if wrong or len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError(
                f"SHARD_IDS must be distinct shard numbers from 0 to {self.shard_count - 1} "
                f"(SHARD_COUNT={self.shard_count})"
            )
        if len(self.shard_ids) < self.shard_count and self.database_url is None:
            raise ValueError(
                "SHARD_IDS runs only some of the shards, so other processes run the rest and "
                "must share this one's state: set DATABASE_URL to a PostgreSQL database"
            )
        return self

    @property
    def runs_first_shard(self) -> bool:
        """Whether this process runs shard 0: the one process that syncs the commands."""
        return self.runs_shard_of(None)

    def runs_shard_of(self, guild_id: int | None) -> bool:
        """Whether this process runs the shard Discord sends the events of server `guild_id`
        to (None: direct messages, which go to shard 0)."""
        if not self.shard_ids:
            return True
        if guild_id is None or self.shard_count is None:
            return 0 in self.shard_ids
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _a_port_or_off(cls, value: Any) -> Any:
        """Empty is off, like unset; anything but a whole number from 0 to 65535 is named."""
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return 0
            if not value.isdigit() or int(value) > 65535:
                raise ValueError(
                    f"{value!r} is not a port: a number from 1 to 65535, or 0 for no health "
                    "and metrics endpoints"
                )
        return value

    @field_validator("metrics_host")
    @classmethod
    def _an_address_or_host_name(cls, value: str) -> str:
        value = value.strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            if HOST_NAME.fullmatch(value):
                return value
        raise ValueError(
            f"{value!r} is not an address to listen on: an IP address (127.0.0.1 for this "
            "machine only, 0.0.0.0 or :: for every interface) or a host name"
        )

    @model_validator(mode="after")
    def _budget_defaults_within_ceilings(self) -> Settings:
        for name in BUDGET_NAMES:
            default = getattr(self, f"budget_{name}")
            ceiling = getattr(self, f"budget_max_{name}")
            if default and ceiling and default > ceiling:
                raise ValueError(
                    f"BUDGET_{name.upper()} ({default}) is above its ceiling "
                    f"BUDGET_MAX_{name.upper()} ({ceiling})"
                )
        return self

    @model_validator(mode="after")
    def _several_servers_only_where_balanced(self) -> Settings:
        for prefix, provider, urls in (
            ("AUDIO", self.audio_provider, self.audio_base_url),
            ("FALLBACK", self.fallback_provider, self.fallback_base_url),
        ):
            if len(urls) > 1 and provider != BALANCING_PROVIDER:
                raise ValueError(
                    f"{prefix}_BASE_URL lists {len(urls)} servers, which only "
                    f"{prefix}_PROVIDER={BALANCING_PROVIDER} balances; give one URL"
                )
        return self

    @model_validator(mode="after")
    def _fallback_is_complete(self) -> Settings:
        if self.fallback_provider not in (None, LOCAL) and not self.fallback_api_key:
            raise ValueError("FALLBACK_PROVIDER needs FALLBACK_API_KEY as well")
        return self


def load_settings() -> Settings:
    """Read the settings, or raise `SettingsError` naming every bad setting on its own line."""
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"] if isinstance(part, str)).upper()
            message = problem["msg"].removeprefix("Value error, ")
            if positions := [part for part in problem["loc"] if isinstance(part, int)]:
                message = f"item {positions[0] + 1}: {message}"  # of a comma-separated list
            lines.append(f"setting {name}: {message}" if name else f"settings: {message}")
        raise SettingsError("\n".join(lines)) from None
