"""`python -m bot serve`: the local engine (Whisper tiny.en, eSpeak NG) served over the
OpenAI-compatible API in a process of its own, where discord.py cannot even be imported, until
SIGTERM; an address it cannot listen on stops it with one line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys

import httpx

from tests.cli.test_cli import run_cli
from tests.cli.test_without_discord import WITHOUT_DISCORD
from tests.local_models import TINY_EN

KEY = "serve-key-123"
ENGINE = {
    "HF_HUB_OFFLINE": "1",
    "LOCAL_WHISPER_MODEL": str(TINY_EN),
    "LOCAL_PIPER_VOICE": "none",
    "SERVE_API_KEY": KEY,
}
SERVING = re.compile(r"serving the local engine .* on (http://127\.0\.0\.1:\d+)/v1")


async def test_serve_speaks_and_hears_until_stopped(tmp_path):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *WITHOUT_DISCORD,
        "serve",
        "--port",
        "0",
        cwd=tmp_path,
        env=keep | {"NO_PROXY": "127.0.0.1"} | ENGINE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log = []
    async with asyncio.timeout(60):
        while not (found := SERVING.search(line := (await process.stderr.readline()).decode())):
            assert line, "".join(log)  # the server ended before it served
            log.append(line)
    base_url = found[1]
    said = "Please bring the quarterly report and your laptop."
    async with httpx.AsyncClient(
        trust_env=False, timeout=60, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        speech = await http.post(
            f"{base_url}/v1/audio/speech",
            json={"model": "tts-1", "input": said, "voice": "alloy", "response_format": "opus"},
        )
        assert speech.status_code == 200, speech.text
        heard = await http.post(
            f"{base_url}/v1/audio/transcriptions",
            data={"model": "whisper-1", "response_format": "text"},
            files={"file": ("memo.ogg", speech.content, "audio/ogg")},
        )
    assert heard.status_code == 200, heard.text
    assert "quarterly report" in heard.text.lower()
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        rest = (await process.stderr.read()).decode()
        assert await process.wait() == 0, rest
    assert "Traceback" not in rest and KEY not in "".join(log) + rest


async def test_an_address_in_use_stops_serve_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await run_cli(
            "serve", "--port", str(port), cwd=tmp_path, launch=WITHOUT_DISCORD, **ENGINE
        )
    assert (code, out) == (2, "")
    assert err.endswith(
        f"earshot cannot start:\ncannot listen on 127.0.0.1:{port}: Address already in use\n"
    )
