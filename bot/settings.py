"""The one place earshot reads its configuration: environment variables and `.env`.

Every setting is documented in `.env.example` and the README. `load_settings()` turns a
validation failure into `SettingsError`, one line per bad setting that names the environment
variable, so start-up never ends in a traceback and never echoes a secret's value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


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

    audio_provider: Literal["openai", "gemini"] = "openai"
    """Which wire protocol the audio service speaks: OpenAI-compatible or Gemini-native."""
    audio_base_url: AnyHttpUrl = AnyHttpUrl("https://api.dgrid.ai")
    """Base of the audio API; the provider appends `/v1/audio/...` (openai) or
    `/v1/models/{model}:generateContent` (gemini)."""
    audio_api_key: SecretStr
    """Bearer key for the audio API."""
    transcription_model: Annotated[str, Field(min_length=1)] | None = None
    """None: the provider's default (whisper-1 for openai, gemini-2.5-flash for gemini)."""
    translation_model: Annotated[str, Field(min_length=1)] | None = None
    speech_model: Annotated[str, Field(min_length=1)] | None = None
    """Text-to-speech model; for OpenAI, gpt-4o-mini-tts offers 13 voices and instructions;
    for Gemini, the default is gemini-2.5-flash-preview-tts."""
    speech_voice: Annotated[str, Field(min_length=1)] | None = None
    """The voice used when a member picks none; None: the provider's first voice."""

    max_download_bytes: Annotated[int, Field(gt=0)] = 25 * MIB
    """Largest attachment earshot downloads; bigger files are refused before downloading."""
    max_audio_seconds: Annotated[float, Field(gt=0)] = 20 * 60
    """Longest recording earshot transcribes."""
    max_speech_chars: Annotated[int, Field(gt=0)] = 20_000
    """Longest text earshot speaks; longer text is split for the provider and joined again."""
    speech_parallelism: Annotated[int, Field(ge=1, le=16)] = 3
    """How many pieces of one long text are synthesized at once."""

    http_connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    http_timeout: Annotated[float, Field(gt=0)] = 120.0
    """Read/write timeout of one HTTP request, in seconds."""
    provider_max_attempts: Annotated[int, Field(ge=1, le=10)] = 4
    """How many times one provider call is tried, the first included."""
    provider_retry_budget: Annotated[float, Field(gt=0, le=600)] = 240.0
    """Seconds after which no new retry starts; keeps replies inside Discord's 15-minute window."""

    data_dir: Path = Path("data")
    """Where earshot keeps its state (the synced command set's fingerprint)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise `SettingsError` naming every bad setting on its own line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper() or "settings"
            lines.append(f"setting {name}: {problem['msg']}")
        raise SettingsError("\n".join(lines)) from None
