"""Regenerate the README's SVG screenshots from the TUI driven by the test FakeConsole.

    .venv/bin/python screenshots/make_screenshots.py

Deterministic: fixed data, a fixed clock and UTC, so an unchanged UI gives unchanged SVGs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ["TZ"] = "UTC"
time.tzset()

from console.tui.app import BluegreenApp  # noqa: E402
from tests.tui.conftest import settle, wait_until  # noqa: E402
from tests.tui.fake_console import FakeConsole, fixed_clock  # noqa: E402
from tests.tui.fake_fleet import fake_fleet  # noqa: E402

SHOTS: list[tuple[str, dict[str, bool], tuple[int, int], tuple[str, ...]]] = [
    ("main-mid-sync", {}, (120, 40), ()),
    ("switch-confirm", {}, (120, 40), ("S",)),
    ("read-only", {"read_only": True}, (120, 40), ()),
    ("compact-80x24", {}, (80, 24), ()),
]


async def shoot(
    name: str, options: dict[str, bool], size: tuple[int, int], keys: tuple[str, ...]
) -> Path:
    app = BluegreenApp(FakeConsole(**options), clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        path = Path(app.save_screenshot(f"{name}.svg", path=str(HERE)))
        app.exit(0)
    return path


# The overview of several services (issue 23): seven services in as many situations, one
# service file skipped, at 80×24 and wide.
FLEET_SHOTS: list[tuple[str, tuple[int, int]]] = [
    ("fleet-overview-80x24", (80, 24)),
    ("fleet-overview", (140, 32)),
]
SKIPPED = {
    "broken": "Service broken (/etc/bluegreen/broken.toml) skipped: slots.blue.host_port must be "
    "a whole number, not a string."
}


async def shoot_fleet(name: str, size: tuple[int, int]) -> Path:
    app = BluegreenApp(fake_fleet(7), clock=fixed_clock, skipped=SKIPPED)  # type: ignore[arg-type]
    async with app.run_test(size=size) as pilot:
        overview = app.overview
        assert overview is not None
        await wait_until(
            pilot, lambda: all(r.status or r.skipped for r in overview.readings.values())
        )
        await wait_until(pilot, lambda: len(overview.rows) == len(overview.readings))
        await pilot.pause()
        path = Path(app.save_screenshot(f"{name}.svg", path=str(HERE)))
        app.exit(0)
    return path


async def main() -> None:
    for name, options, size, keys in SHOTS:
        print(await shoot(name, options, size, keys))
    for name, size in FLEET_SHOTS:
        print(await shoot_fleet(name, size))


if __name__ == "__main__":
    asyncio.run(main())
