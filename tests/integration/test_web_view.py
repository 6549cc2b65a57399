"""Issue 12 points 2 (traffic) and 6, issue 15 point 4, on real parts: the explorer sandbox
(Docker, PostgreSQL, nginx) with its agent; `bluegreen watch --web` in a real headless Chromium.

- requests through the sandbox's nginx raise the exporter's request counter (a real scrape parsed
  with prometheus_client.parser);
- the page shows both colours' states and the READ-ONLY badge; the switch key and the other
  mutating keys reach the served console and change nothing (`status --json`, the audit log);
  a screenshot goes to screenshots/web-view.png;
- with planted secrets (the database password, a webhook URL token, an HTTP progress source's
  header that the source echoes back into an error), the scrape, the served page and the page's
  stream never carry one.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import typing
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down
from tests.metrics_series import Series, parse_series, series_value
from tests.web_browser import browser_on, served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

PORT_BASE = ports.WEB_VIEW.start
WEB_PORT = ports.WEB_VIEW_WEB
SINK_PORT = ports.WEB_VIEW_SINK
DEPLOY_TAG = "webview-v2"  # a private tag: another sandbox's teardown removes :v2
REQUESTS = 25
SCREENSHOT = Path(__file__).parents[2] / "screenshots" / "web-view.png"
WEBHOOK_TOKEN = "WEBHOOKSECRET-" + secrets.token_hex(8)
PROGRESS_TOKEN = "HEADERSECRET-" + secrets.token_hex(16)  # longer than the error's excerpt


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    from console.sandbox.images import build_standin

    world = bring_up(profile="explorer", port_base=PORT_BASE, history=3000, speed=1500)
    try:
        build_standin(DEPLOY_TAG)
        result = world.cli("deploy", DEPLOY_TAG, "--switch", "never", "--wait", "--timeout", "120")
        assert result.returncode == 0, result.stdout + result.stderr
        yield world
    finally:
        tear_down(world.dir)


def scrape(url: str) -> tuple[str, Series]:
    text = httpx.get(url, timeout=5).text
    return text, parse_series(text)


SERVICE = "explorer"  # the sandbox's one service: every series carries it


def value(series: Series, name: str, **labels: str) -> float:
    return series_value(series, name, service=SERVICE, **labels) or 0.0


def test_request_counter_follows_requests_through_the_proxy(sandbox: Sandbox) -> None:
    url = sandbox.sandbox_status()["metrics_url"]
    _, before = scrape(url)
    requests = value(before, "bluegreen_slot_requests_total", color="blue")
    ok = value(before, "bluegreen_slot_responses_total", color="blue", status_class="2xx")
    timed = value(before, "bluegreen_slot_upstream_response_seconds_count", color="blue")
    green = value(before, "bluegreen_slot_requests_total", color="green")
    with httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(REQUESTS):
            answer = client.post(f"{sandbox.proxy_url}/graphql", json={"query": "{ __typename }"})
            assert answer.status_code == 200
    deadline = time.monotonic() + 15
    after = before
    while time.monotonic() < deadline:
        _, after = scrape(url)
        if value(after, "bluegreen_slot_requests_total", color="blue") >= requests + REQUESTS:
            break
        time.sleep(0.5)
    got = value(after, "bluegreen_slot_requests_total", color="blue") - requests
    print(f"blue requests_total +{got:.0f} after {REQUESTS} POSTs through nginx")
    assert got >= REQUESTS
    assert (
        value(after, "bluegreen_slot_responses_total", color="blue", status_class="2xx") - ok
        >= REQUESTS
    )
    assert (
        value(after, "bluegreen_slot_upstream_response_seconds_count", color="blue") - timed
        >= REQUESTS
    )
    inf = value(after, "bluegreen_slot_upstream_response_seconds_bucket", color="blue", le="+Inf")
    assert inf == value(after, "bluegreen_slot_upstream_response_seconds_count", color="blue")
    assert value(after, "bluegreen_slot_requests_total", color="green") == green  # idle colour
    assert value(after, "bluegreen_slot_open_connections", color="blue") == 0
    assert value(after, "bluegreen_slot_window_requests_per_second", color="blue") > 0


def _served_consoles() -> list[list[str]]:
    """The command lines of the console processes textual-serve started (one per tab)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            words = (proc / "cmdline").read_bytes().decode().split("\0")
        except (OSError, UnicodeDecodeError):
            continue
        if "console" in words and "watch" in words and "--web" not in words:
            found.append([w for w in words if w])
    return found


def test_chromium_shows_both_colours_read_only_and_keys_change_nothing(sandbox: Sandbox) -> None:
    status = sandbox.status()
    assert status["live"] == "blue" and status["slots"]["green"]["state"] == "ready", status
    events_before = json.loads(sandbox.cli("history", "--json").stdout)
    with served(sandbox.config, WEB_PORT), browser_on(f"http://127.0.0.1:{WEB_PORT}/") as view:
        screen = view.wait_for_text(
            lambda t: (
                all(w in t for w in ("READ-ONLY", "BLUE", "GREEN", "LIVE", "READY"))
                and DEPLOY_TAG in t
            ),
            timeout=40,
        )
        print(screen)
        view.screenshot(SCREENSHOT)
        consoles = _served_consoles()
        assert consoles and all(c[-2:] == ["--read-only", "watch"] for c in consoles), consoles
        for key in ("S", "R", "D", "y", "Enter"):  # switch, roll back, deploy; a "yes" after
            view.press(key)
            view.page.wait_for_timeout(300)
        view.page.wait_for_timeout(2000)
        assert any(sent == '["stdin","S"]' for sent in view.replay.sent), view.replay.sent
        after_keys = view.replay.text()
        assert "READ-ONLY" in after_keys and "Switch blue" not in after_keys, after_keys
    assert SCREENSHOT.stat().st_size > 10_000
    # Nothing was done: no switch, rollback or deploy, the same deployment in green. (Not
    # "green still ready": readiness is re-earned every tick, and a busy machine can delay it.)
    events_after = json.loads(sandbox.cli("history", "--json").stdout)
    assert _operations(events_after) == _operations(events_before)
    after = sandbox.status()
    assert after["live"] == "blue", after
    assert after["slots"]["green"]["deployment_id"] == status["slots"]["green"]["deployment_id"]
    assert after["slots"]["green"]["image"] == status["slots"]["green"]["image"]
    assert sandbox.served_by() == "blue"


def _operations(history: typing.Any) -> list[typing.Any]:
    events = history["events"] if isinstance(history, dict) else history
    return [e for e in events if e.get("kind") in ("switch", "rollback", "deploy")]


class _Sink(BaseHTTPRequestHandler):
    """The planted webhook (records its paths) and HTTP progress source (echoes the header)."""

    hook_paths: typing.ClassVar[list[str]] = []
    headers_seen: typing.ClassVar[list[str]] = []

    def do_GET(self) -> None:
        token = self.headers.get("X-Api-Key", "")
        _Sink.headers_seen.append(token)
        body = f"{token} is not allowed here".encode()  # not JSON: the error quotes it
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Sink.hook_paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _planted_config(sandbox: Sandbox) -> Path:
    with (sandbox.dir / "secrets.env").open("a") as secrets_file:
        secrets_file.write(f"WEBHOOK=http://127.0.0.1:{SINK_PORT}/hook/{WEBHOOK_TOKEN}\n")
        secrets_file.write(f"PROGRESS_TOKEN={PROGRESS_TOKEN}\n")
    text = sandbox.config.read_text()
    head = '[head]\nkind = "sql"\nquery = "SELECT MAX(height) - 1 FROM blocks"\n'
    assert head in text and 'webhook_url = ""' in text
    text = text.replace(
        head,
        f'[head]\nkind = "http"\nurl = "http://127.0.0.1:{SINK_PORT}/head"\n'
        'headers = { X-Api-Key = "${PROGRESS_TOKEN}" }\nfield = "head"\n',
    ).replace('webhook_url = ""', 'webhook_url = "${WEBHOOK}"')
    path = sandbox.dir / "planted.toml"
    path.write_text(text)
    return path


def test_no_planted_secret_in_the_scrape_or_the_web_view(sandbox: Sandbox) -> None:
    from console.core.config.load import load_config
    from console.core.ops.agent_process import ensure_agent
    from console.wiring import open_installation

    sink = ThreadingHTTPServer(("127.0.0.1", SINK_PORT), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        planted = _planted_config(sandbox)
        stop_agent(sandbox)
        inst = open_installation(load_config(str(planted)))
        try:
            ensure_agent(inst)
        finally:
            inst.close()
        for args in (("switch", "--yes", "--force"), ("rollback", "--yes")):
            result = sandbox.cli(*args, config=planted)  # notifies through the planted webhook
            assert result.returncode == 0, result.stdout + result.stderr
        deadline = time.monotonic() + 30
        while "did not answer JSON" not in json.dumps(sandbox.status()):
            assert time.monotonic() < deadline, "the echoing progress source was never read"
            time.sleep(0.5)
        url = sandbox.sandbox_status()["metrics_url"]
        with served(planted, WEB_PORT):
            page = httpx.get(f"http://127.0.0.1:{WEB_PORT}/", timeout=5).text
            with browser_on(f"http://127.0.0.1:{WEB_PORT}/") as view:
                screen = view.wait_for_text(lambda t: "did not answer JSON" in t, timeout=40)
                view.press("l")  # the other colour's logs too
                view.page.wait_for_timeout(2000)
                screens = screen + view.replay.text()
                stream = bytes(view.replay.raw)
        scraped, _ = scrape(url)
    finally:
        sink.shutdown()
        sink.server_close()
    # The secrets really flowed: the header reached the source (which echoed it into an error
    # the agent published), the webhook got its token, the container printed its password.
    assert any(PROGRESS_TOKEN in seen for seen in _Sink.headers_seen)
    assert any(WEBHOOK_TOKEN in path for path in _Sink.hook_paths)
    assert "***" in screens  # the echoed header, masked where the page shows it
    for secret in (sandbox.password, WEBHOOK_TOKEN, PROGRESS_TOKEN):
        for part in (secret, secret[-16:], secret[:20]):  # nor a cut-off piece of one
            assert part not in scraped
            assert part not in page
            assert part not in screens, part
            assert part.encode() not in stream
