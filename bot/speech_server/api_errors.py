"""Failures as OpenAI's API answers them: a status and the body
`{"error": {"message", "type", "param", "code"}}`, which OpenAI-compatible clients (earshot's
`openai` provider among them) read and map. Earshot's own errors are mapped here, once: what
the request got wrong is a 4xx (413 for a file over the limit), what the engine could not do
is a 5xx, so a client tries again, elsewhere if it can.
"""

from __future__ import annotations

from aiohttp import web

from bot.errors import (
    AudioTooLarge,
    EarshotError,
    InputError,
    InvalidOption,
    ProviderMisconfigured,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnsupported,
)

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


class ApiError(Exception):
    """A request answered with an error: raise it in a handler, and the error middleware
    sends it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = INVALID_REQUEST,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.param, self.code, self.kind = param, code, kind

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }
        return web.json_response(body, status=self.status)


def api_error_for(error: EarshotError) -> ApiError:
    """The answer for one of earshot's errors: the request's fault (its audio, an option, what
    the engine does not offer) is a 4xx with the member-facing sentence; the engine's is a 5xx."""
    if isinstance(error, AudioTooLarge):
        return ApiError(413, error.user_message, param="file", code="file_too_large")
    if isinstance(error, InvalidOption):
        return ApiError(400, error.reply)
    if isinstance(error, InputError):
        return ApiError(400, error.user_message, param="file")
    if isinstance(error, ProviderRejectedInput):
        return ApiError(400, error.detail)
    if isinstance(error, ProviderUnsupported):
        return ApiError(400, f"this server offers no {error.capability}", code="unsupported")
    if isinstance(error, ProviderTimeout):
        return ApiError(504, str(error), kind=SERVER_ERROR)
    if isinstance(error, ProviderMisconfigured):
        return ApiError(500, "the speech engine is not set up correctly", kind=SERVER_ERROR)
    return ApiError(503, "the speech engine is unavailable", kind=SERVER_ERROR)
