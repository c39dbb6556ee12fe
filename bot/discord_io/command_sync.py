"""Deliberate command sync: push the command set to Discord only when it changed.

Syncing on every start would spend a tightly rate-limited endpoint (and, for global commands,
make clients re-fetch them) for nothing. Instead the command set's fingerprint is kept in the
data directory; start-up syncs when it differs, and `python -m bot sync` forces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import aiofiles
import aiofiles.os
from discord import app_commands

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "command-set.sha256"


def fingerprint(tree: app_commands.CommandTree, application_id: int | None) -> str:
    """A digest of everything Discord is told about the global commands of this application."""
    payload = sorted(
        (command.to_dict(tree) for command in tree.get_commands()),
        key=lambda command: (command["type"], command["name"]),
    )
    document = json.dumps([application_id, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(document.encode()).hexdigest()


async def sync_commands(
    tree: app_commands.CommandTree, application_id: int | None, data_dir: Path, *, force: bool
) -> bool:
    """Sync when forced or when the command set changed since the last sync; say whether."""
    current = fingerprint(tree, application_id)
    marker = data_dir / FINGERPRINT_FILE
    if not force and await aiofiles.os.path.exists(marker):
        async with aiofiles.open(marker) as file:
            if (await file.read()).strip() == current:
                log.info("command set unchanged since the last sync; not syncing")
                return False
    synced = await tree.sync()
    await aiofiles.os.makedirs(data_dir, exist_ok=True)
    async with aiofiles.open(marker, "w") as file:
        await file.write(current)
    log.info("synced %d commands with Discord", len(synced))
    return True
