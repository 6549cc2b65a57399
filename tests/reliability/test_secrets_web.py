"""The planted-secret test's world (a random DB password, a webhook token in `${WEBHOOK}`, a
container that prints its DB URL) seen from the outside: the exporter's scrape and the web view's
page and stream (a real Chromium) carry neither secret, whole or in part. The HTTP progress
header case is in tests/integration/test_web_view.py (this world's sources are SQL)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.reliability.conftest import WEBHOOK_TOKEN, WebhookSink, World
from tests.web_browser import browser_on, served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

WEB_PORT = 29653  # in this engineer's port range (29600+); test_web_view.py uses 29650-29651


def test_no_secret_in_the_scrape_or_the_web_view(world: World, webhook: type[WebhookSink]) -> None:
    world.ensure_baseline()
    code, out = world.cli("sandbox", "status", "--dir", str(world.dir), "--json")
    assert code == 0, out
    scraped = httpx.get(json.loads(out)["metrics_url"], timeout=5).text
    assert "bluegreen_slot_state" in scraped
    with served(world.config, WEB_PORT):
        page = httpx.get(f"http://127.0.0.1:{WEB_PORT}/", timeout=5).text
        with browser_on(f"http://127.0.0.1:{WEB_PORT}/") as view:
            screens = view.wait_for_text(lambda t: "READ-ONLY" in t and "GREEN" in t)
            for key in ("l", "2", "1"):  # both colours' logs: the container printed its URL
                view.press(key)
                view.page.wait_for_timeout(1000)
                screens += view.replay.text()
            stream = bytes(view.replay.raw)
    for secret in (world.password, WEBHOOK_TOKEN):
        for part in (secret, secret[-16:]):
            assert part not in scraped
            assert part not in page
            assert part not in screens
            assert part.encode() not in stream
