"""`python -m bot serve`: this machine's local engine (the LOCAL_* settings) served over the
OpenAI-compatible audio API, for earshot's `openai` provider on other machines (several such
servers in AUDIO_BASE_URL are balanced) or any other client of that API. Serves until SIGTERM
or SIGINT, letting requests under way finish for a few seconds. At start and every minute
after, it removes the uploads a killed server left (`bot.runtime.scratch`). Never imports
discord.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import threading

from bot.runtime.scratch import keep_removing_left_behind, remove_left_behind
from bot.runtime.workers import in_thread
from bot.settings import Settings, SettingsError
from bot.speech_server.routes import Limits
from bot.speech_server.server import serving, speech_app

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


async def serve_speech(settings: Settings, host: str, port: int) -> None:
    """Serve on `host`:`port` until stopped. Raises `SettingsError` when the engine cannot be
    built or the address cannot be listened on."""
    await in_thread(remove_left_behind)
    removing = asyncio.create_task(keep_removing_left_behind(), name="earshot removing")
    try:
        await _serve(settings, host, port)
    finally:
        removing.cancel()
        await asyncio.gather(removing, return_exceptions=True)


async def _serve(settings: Settings, host: str, port: int) -> None:
    """The engine, served until SIGTERM or SIGINT."""
    from bot.providers.local.provider import LocalProvider  # CTranslate2 and ONNX: only here

    provider = await LocalProvider.from_settings(settings)
    limits = Limits(settings.serve_max_upload_bytes, settings.max_audio_seconds)
    app = speech_app(provider, limits, api_key=settings.serve_api_key)
    stop = asyncio.Event()
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
    try:
        async with serving(app, host, port) as url:
            log.info(
                "serving the local engine (Whisper %s, %d at once) on %s/v1",
                provider.transcription_model,
                provider.slots,
                url,
            )
            if settings.serve_api_key is None and not _loopback(host):
                log.warning("no SERVE_API_KEY: anyone who can reach %s may use this engine", url)
            await stop.wait()
            log.info("stopping: requests under way may take a few seconds to finish")
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise SettingsError(f"cannot listen on {host}:{port}: {reason}") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
