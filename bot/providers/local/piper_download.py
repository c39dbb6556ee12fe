"""LOCAL_PIPER_VOICE made a voice file: a path as it is, a Piper voice name (`en_US-lessac-medium`)
from the model cache, downloaded there once from the Hugging Face Hub's rhasspy/piper-voices.

A name is looked up in the cache first, on disk only, so every start after the first needs no
network. A missing voice is fetched by huggingface_hub (which honours HF_ENDPOINT, and with
HF_HUB_OFFLINE=1 fetches nothing) in a daemon thread, waited for at most `wait` seconds: start-up
is never held longer, and a process may exit while a download hangs (the partial file is resumed
next time). A download still running then carries on in the background and its voice is used
from the next start. Whatever keeps the voice away (no network, an unknown name, a full disk)
costs one warning naming the setting, and the engine speaks with eSpeak NG's voices.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from pathlib import Path
from typing import NamedTuple

import huggingface_hub
import huggingface_hub.constants

log = logging.getLogger(__name__)

SETTING = "LOCAL_PIPER_VOICE"
REPOSITORY = "rhasspy/piper-voices"
DOWNLOAD_WAIT = 30.0
"""Seconds start-up waits for a voice being downloaded (63 MB for a medium one)."""


class VoiceFiles(NamedTuple):
    """A Piper voice on disk: its model and its configuration."""

    model: Path
    config: Path

    @classmethod
    def beside(cls, model: Path) -> VoiceFiles:
        """A voice as Piper publishes it: `x.onnx` with `x.onnx.json` beside it."""
        return cls(model, model.with_name(f"{model.name}.json"))


async def piper_voice_files(
    setting: str | Path | None, cache_dir: Path, *, wait: float = DOWNLOAD_WAIT
) -> VoiceFiles | None:
    """The voice LOCAL_PIPER_VOICE names, or None for eSpeak NG only: when it is unset, or its
    named voice is not in `cache_dir` and cannot be downloaded into it within `wait` seconds.
    A path is taken unchecked, with its configuration beside it."""
    if setting is None:
        return None
    if isinstance(setting, Path):
        return VoiceFiles.beside(setting)
    cached = cached_voice(setting, cache_dir)
    if cached is not None:
        return cached
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        _fell_back(setting, f"it is not in {cache_dir} and HF_HUB_OFFLINE=1 forbids downloading it")
        return None
    log.warning("downloading the Piper voice %s into %s (once)", setting, cache_dir)
    download: concurrent.futures.Future[VoiceFiles] = concurrent.futures.Future()
    threading.Thread(
        target=_download_into,
        args=(download, setting, cache_dir),
        name=f"download {setting}",
        daemon=True,
    ).start()
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(download)), wait)
    except TimeoutError:
        _fell_back(
            setting, f"it is still downloading after {wait:g} s; it is used from the next start"
        )
        download.add_done_callback(_report_late)
    except Exception as exc:  # whatever the download raised; see _download_into
        _fell_back(setting, f"it could not be downloaded from {REPOSITORY}: {_first_line(exc)}")
    return None


def repository_paths(name: str) -> tuple[str, str]:
    """Where voice `name`'s model and configuration are in rhasspy/piper-voices, as
    `en/en_US/lessac/medium/en_US-lessac-medium.onnx` and its `.onnx.json`."""
    language_region, dataset, quality = name.split("-")
    language = language_region.split("_")[0]
    model = f"{language}/{language_region}/{dataset}/{quality}/{name}.onnx"
    return model, f"{model}.json"


def cached_voice(name: str, cache_dir: Path) -> VoiceFiles | None:
    """Voice `name` in `cache_dir` when both its files are there; reads the disk only."""
    found = [
        huggingface_hub.try_to_load_from_cache(REPOSITORY, path, cache_dir=cache_dir)
        for path in repository_paths(name)
    ]
    paths = [Path(path) for path in found if isinstance(path, str)]
    return VoiceFiles(*paths) if len(paths) == len(found) else None


def download_voice(name: str, cache_dir: Path) -> VoiceFiles:
    """Fetch voice `name`'s files into `cache_dir`, keeping what is there already. Blocks;
    raises what huggingface_hub raises.

    Each file is of the newest revision when it is fetched, so should the repository change
    in between, the two sit in different snapshots: hence two paths, not one beside the other.
    """
    return VoiceFiles(
        *(
            Path(huggingface_hub.hf_hub_download(REPOSITORY, path, cache_dir=cache_dir))
            for path in repository_paths(name)
        )
    )


def _download_into(
    download: concurrent.futures.Future[VoiceFiles], name: str, cache_dir: Path
) -> None:
    """In the download thread: the voice's file, or what stopped the download, into
    `download`. Any exception, as huggingface_hub raises its own, httpx's and OSErrors."""
    try:
        model = download_voice(name, cache_dir)
    except Exception as exc:
        download.set_exception(exc)
    else:
        download.set_result(model)


def _report_late(download: concurrent.futures.Future[VoiceFiles]) -> None:
    """Once a download that start-up stopped waiting for is over, say how it ended."""
    exc = download.exception()
    if exc is None:
        voice = download.result().model.name
        log.info("the Piper voice %s is downloaded; it is used from the next start", voice)
    else:
        log.warning("setting %s: the Piper voice's download failed: %s", SETTING, _first_line(exc))


def _fell_back(name: str, why: str) -> None:
    log.warning(
        "setting %s: no Piper voice %s, as %s; speaking with eSpeak NG's voices", SETTING, name, why
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
