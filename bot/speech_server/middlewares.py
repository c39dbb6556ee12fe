"""What every request passes through: the Bearer key, when one is set, and the one place
failures become OpenAI's error answers (unknown routes and unexpected errors included, the
latter logged with their traceback)."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import SecretStr

from bot.errors import EarshotError
from bot.speech_server.api_errors import SERVER_ERROR, ApiError, api_error_for
from bot.speech_server.request_body import discard_body

log = logging.getLogger(__name__)

MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
WRONG_KEY = "Incorrect API key provided."


def bearer_key(key: SecretStr) -> Middleware:
    """Refuse a request without `Authorization: Bearer <key>` with a 401, its body read and
    dropped first (a client sends its whole upload before it reads the answer). The key given
    is compared in constant time and never echoed."""
    expected = f"Bearer {key.get_secret_value()}".encode()

    @web.middleware
    async def check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization")
        if given is None or not hmac.compare_digest(given.encode(), expected):
            await discard_body(request)
            message = MISSING_KEY if given is None else WRONG_KEY
            raise ApiError(401, message, code="invalid_api_key")
        return await handler(request)

    return check_key


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure answered in OpenAI's shape; 5xx answers logged for the operator. A client
    that hung up while its answer was sent is nobody's error: aiohttp drops the connection."""
    try:
        return await handler(request)
    except ConnectionResetError:
        raise
    except ApiError as error:
        return error.response()
    except EarshotError as error:
        answer = api_error_for(error)
        if answer.status >= 500:
            log.warning("%s %s failed: %s", request.method, request.path, error)
        return answer.response()
    except web.HTTPException as error:  # no such route, a method it does not take
        if error.status < 400:
            raise
        return ApiError(error.status, f"{request.method} {request.path}: {error.reason}").response()
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return ApiError(500, "the server failed to answer", kind=SERVER_ERROR).response()
