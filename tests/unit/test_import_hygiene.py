"""The core is reachable without a terminal UI: importing every core module pulls in neither
textual nor rich (the agent runs headless under systemd; the web view and the CLI's JSON need
none of it). `lint-imports` checks the same statically in `./dev test`; this checks what really
happens at import time, in a fresh interpreter, so a plugin or a re-export cannot hide it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import console.core

UI_PACKAGES = ("textual", "rich")


def core_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(console.core.__path__, prefix="console.core.")
    )


def test_the_core_has_modules_to_check() -> None:
    assert len(core_modules()) > 30


def test_importing_every_core_module_loads_no_ui_package() -> None:
    program = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {UI_PACKAGES!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the core loaded: {result.stdout.strip()}"
