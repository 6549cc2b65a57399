"""A real headless Chromium (Debian's `chromium`, driven by Playwright) on `bluegreen watch --web`.

Playwright never downloads its own browser here: it launches /usr/bin/chromium. The page draws the
terminal on a canvas (xterm.js), so what it shows is read back from the websocket stream the page
received, replayed through a terminal emulator (pyte) at the size the page asked for — the same
bytes xterm.js drew. Every frame is also kept raw, for the secret scans.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class TerminalReplay:
    """The websocket's screen stream, replayed into a pyte screen."""

    def __init__(self) -> None:
        import pyte

        self.lock = threading.Lock()
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()  # every byte the server sent, unparsed
        self.sent: list[str] = []  # every text frame the page sent (keys, resizes)

    def size(self, width: int, height: int) -> None:
        with self.lock:
            self.screen.resize(lines=height, columns=width)

    def received(self, payload: bytes | str) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        with self.lock:
            self.raw += data
            if isinstance(payload, bytes):
                self.stream.feed(payload)

    def page_sent(self, payload: bytes | str) -> None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        self.sent.append(text)
        try:
            envelope = json.loads(text)
        except ValueError:
            return
        if isinstance(envelope, list) and envelope and envelope[0] == "resize":
            self.size(int(envelope[1]["width"]), int(envelope[1]["height"]))

    def text(self) -> str:
        with self.lock:
            return "\n".join(line.rstrip() for line in self.screen.display)


class WebView:
    """A served web view (`bluegreen watch --web`) and one Chromium page on it."""

    def __init__(self, page: Any, replay: TerminalReplay, url: str) -> None:
        self.page = page
        self.replay = replay
        self.url = url

    def wait_for_text(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.replay.text()
            if predicate(text):
                return text
            self.page.wait_for_timeout(250)
        raise AssertionError(f"the page never showed what was awaited; it shows:\n{text}")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))


@contextmanager
def served(config: Path, port: int, timeout: float = 20) -> Iterator[subprocess.Popen[str]]:
    """`bluegreen --config CONFIG watch --web --listen 127.0.0.1:PORT`, stopped on exit."""
    command = ["watch", "--web", "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--config", str(config), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its console processes go with it
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.stdout else ""
                    raise AssertionError(f"watch --web did not start:\n{out}") from None
                time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def browser_on(url: str, width: int = 1400, height: int = 900) -> Iterator[WebView]:
    """A fresh headless Chromium profile with one page open on `url`, its terminal connected."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bluegreen-chromium-")
    replay = TerminalReplay()

    def on_websocket(ws: Any) -> None:
        query = parse_qs(urlsplit(ws.url).query)
        replay.size(int(query.get("width", ["80"])[0]), int(query.get("height", ["24"])[0]))
        ws.on("framereceived", replay.received)
        ws.on("framesent", replay.page_sent)

    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": width, "height": height},
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.on("websocket", on_websocket)
                page.goto(url, wait_until="load", timeout=30_000)
                page.wait_for_function(
                    "document.body.classList.contains('-first-byte')", timeout=30_000
                )
                page.click("#terminal")  # keys go to the terminal, as a user's would
                yield WebView(page, replay, url)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
