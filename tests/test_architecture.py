"""The house matches its map: docs/architecture.md names every module of `bot/` and `cogs/` (and
none that is gone), every package says what it may import, and the import-linter contracts in
pyproject.toml cover every part of `bot/` and every cog. `lint-imports` (`make lint`) checks the
imports themselves."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "cogs")
MAP_HEADING = "## Module map"
MAP_ENTRY = re.compile(r"^((?:bot|cogs)/\S*)")


def package_dirs() -> list[Path]:
    return sorted(
        init.parent for source in SOURCES for init in (ROOT / source).rglob("__init__.py")
    )


def modules_on_disk() -> set[str]:
    """Each package as its directory (`bot/audio/`), each other module as its path."""
    packages = {f"{path.relative_to(ROOT).as_posix()}/" for path in package_dirs()}
    modules = {
        path.relative_to(ROOT).as_posix()
        for source in SOURCES
        for path in (ROOT / source).rglob("*.py")
        if path.name != "__init__.py"
    }
    return packages | modules


def modules_on_the_map() -> list[str]:
    """The entries of the first code block under the map's heading, in order."""
    document = (ROOT / "docs" / "architecture.md").read_text()
    after_heading = document.split(f"\n{MAP_HEADING}\n", 1)[1]
    block = after_heading.split("```", 2)[1]
    return [match[1] for line in block.splitlines() if (match := MAP_ENTRY.match(line))]


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {contract["id"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def layer_names(layer: str) -> list[str]:
    return [name.strip().strip("()") for name in re.split(r"[|:]", layer)]


def test_the_module_map_names_every_module_and_only_those():
    on_the_map = modules_on_the_map()
    assert len(on_the_map) == len(set(on_the_map)), "a module is named twice on the map"
    on_disk = modules_on_disk()
    missing = sorted(on_disk - set(on_the_map))
    assert not missing, f"add to the map in docs/architecture.md: {missing}"
    gone = sorted(set(on_the_map) - on_disk)
    assert not gone, f"on the map in docs/architecture.md, not on disk: {gone}"


def test_every_package_says_what_it_may_import():
    silent = []
    for package in package_dirs():
        if package == ROOT / "bot":
            continue  # the root: its docstring describes earshot, its parts are the layers
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        if "may import" not in docstring.lower():
            silent.append(package.relative_to(ROOT).as_posix())
    assert not silent, f"say in the __init__ docstring what these may import: {silent}"


def test_the_layers_contract_places_every_part_of_bot():
    bot = ROOT / "bot"
    parts = {f"bot.{path.stem}" for path in bot.glob("*.py") if path.name != "__init__.py"}
    parts |= {f"bot.{path.parent.name}" for path in bot.glob("*/__init__.py")}
    parts.add("cogs")
    layered = {name for layer in contracts()["layers"]["layers"] for name in layer_names(layer)}
    assert not parts - layered, f"place in the layers contract: {sorted(parts - layered)}"
    assert not layered - parts, f"in the layers contract, not on disk: {sorted(layered - parts)}"


def test_every_layer_below_discord_io_is_in_the_discord_free_core():
    layers = contracts()["layers"]["layers"]
    below = layers[layers.index("bot.discord_io") + 1 :]
    core = contracts()["discord-free-core"]
    assert core["forbidden_modules"] == ["discord"]
    names_below = [name for layer in below for name in layer_names(layer)]
    assert sorted(core["source_modules"]) == sorted(names_below)


def test_the_independence_contract_names_every_cog():
    cogs = {f"cogs.{path.stem}" for path in (ROOT / "cogs").glob("*.py")} - {"cogs.__init__"}
    assert sorted(contracts()["cogs-independent"]["modules"]) == sorted(cogs)


def test_the_benchmarks_run_without_pytest():
    """Benchmarks use the tests' stand-ins and models, never pytest (a test-only tool)."""
    script = (
        "import importlib, pkgutil, sys, benchmarks\n"
        "for found in pkgutil.iter_modules(benchmarks.__path__):\n"
        "    importlib.import_module('benchmarks.' + found.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
