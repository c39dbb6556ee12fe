"""The one mapping of HTTP failures onto earshot's provider errors, and which of them are
worth a retry."""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from bot.errors import (
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)

MAX_DETAIL_CHARS = 300


def retry_after_seconds(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """The wait a response asks for: `retry-after-ms`, else `Retry-After` (seconds or a date)."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def error_detail(response: httpx.Response) -> str:
    """The provider's own explanation, from the common error body shapes, shortened."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
    if not isinstance(message, str) or not message.strip():
        message = text.strip() or response.reason_phrase
    return shortened(message)


def shortened(message: str) -> str:
    """A provider's words fit for a log line or a reply: whitespace collapsed, cut short."""
    return " ".join(message.split())[:MAX_DETAIL_CHARS]


@dataclass(frozen=True)
class SettingNames:
    """Which settings an admin should check when the provider refuses us."""

    credentials: str
    endpoint: str


AUDIO_API_SETTINGS = SettingNames(
    credentials="AUDIO_API_KEY",
    endpoint="AUDIO_BASE_URL and the *_MODEL settings",
)
"""The settings behind a provider reached at AUDIO_BASE_URL with AUDIO_API_KEY."""


def bearer(api_key: SecretStr) -> dict[str, str]:
    """The `Authorization: Bearer` header for `api_key`; never log what this returns."""
    return {"Authorization": f"Bearer {api_key.get_secret_value()}"}


def error_for_response(
    response: httpx.Response, settings: SettingNames, *, secret: str | None = None
) -> ProviderError:
    """Map a failed response to the error hierarchy. Retryable ones carry `retry_after`."""
    status = response.status_code
    detail = error_detail(response)
    if secret:
        detail = detail.replace(secret, "***")
    described = f"HTTP {status} from {response.request.url.path}: {detail}"
    error = error_for_status(status, described, detail, settings)
    error.retry_after = retry_after_seconds(response.headers)
    return error


def error_for_status(
    status: int, described: str, detail: str, settings: SettingNames
) -> ProviderError:
    """The error an HTTP `status` means; `described` goes to the log, `detail` (the service's
    own words) to the member when the request itself is refused."""
    error: ProviderError
    if status in (401, 403):
        error = ProviderMisconfigured(described, setting=settings.credentials)
    elif status == 404:
        error = ProviderMisconfigured(described, setting=settings.endpoint)
    elif status == 408:
        error = ProviderTimeout(described)
    elif status == 429:
        error = ProviderRateLimited(described)
    elif status == 409 or status >= 500:
        error = ProviderUnavailable(described)
    elif 400 <= status < 500:
        error = ProviderRejectedInput(detail)
    else:
        error = ProviderUnavailable(f"unexpected {described}")
    return error


CODES_NAMING_THE_KEY = ("auth", "api_key", "forbidden", "permission")


CODES_NAMING_THE_ENDPOINT = ("not_found", "model_not")


CODES_OF_RATE_LIMITS = ("rate_limit", "quota", "too_many")


CODES_OF_TIMEOUTS = ("timeout", "deadline")


CODES_BLAMING_THE_REQUEST = (
    "invalid", "validation", "unsupported", "too_large", "too_long", "bad_request",
)  # fmt: skip
"""Parts of error codes that put the fault on the request: matched after all the others."""


def error_for_code(code: str, described: str, detail: str, settings: SettingNames) -> ProviderError:
    """The error a service's own error `code` (or type) means, when no HTTP status tells it:
    an error event in a stream, an error envelope sent with status 200. Matched by parts of the
    code, in this order: the key, the model or endpoint, rate limits, timeouts, the request;
    anything else is an outage, which is retried."""
    lowered = code.lower()
    if any(part in lowered for part in CODES_NAMING_THE_KEY):
        return ProviderMisconfigured(described, setting=settings.credentials)
    if any(part in lowered for part in CODES_NAMING_THE_ENDPOINT):
        return ProviderMisconfigured(described, setting=settings.endpoint)
    if any(part in lowered for part in CODES_OF_RATE_LIMITS):
        return ProviderRateLimited(described)
    if any(part in lowered for part in CODES_OF_TIMEOUTS):
        return ProviderTimeout(described)
    if any(part in lowered for part in CODES_BLAMING_THE_REQUEST):
        return ProviderRejectedInput(detail)
    return ProviderUnavailable(described)


def error_for_transport(exc: httpx.TransportError) -> ProviderError:
    """Map a network failure (timeouts, refused or reset connections) to the hierarchy."""
    described = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(described)
    return ProviderUnavailable(described)


def is_retryable(error: BaseException) -> bool:
    """Whether trying again may help: rate limits, outages and timeouts."""
    return isinstance(error, ProviderRateLimited | ProviderUnavailable | ProviderTimeout)
