"""Planted secrets, surface by surface (issue 15.4), on the reliability sandbox: the database
password (which the container prints in its log), the webhook's token and an HTTP progress
source's `Authorization` header (`Bearer ${HEAD_TOKEN}`, the token in the secrets file) never
appear in `status --json`, notifications (the real local receiver), the event log and history,
`logs`, agent.log or the store's files — while each of them really flowed where it belongs.
(test_secrets.py covers the whole-cycle sweep; the metrics exporter and web view have their own.)
"""

from __future__ import annotations

import secrets
import threading
import typing
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from tests.reliability.conftest import WEBHOOK_TOKEN, WebhookSink, World

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

HEAD_PORT = 29174  # outside the sandbox's 29180-29200; 29175-29178 are other tests' sinks
HEAD_TOKEN = "HDRSECRET-" + secrets.token_hex(6)  # short: an echo of it fits a 30-char excerpt


class HeadSource(BaseHTTPRequestHandler):
    """The chain head over HTTP behind a bearer token. `echo`: a broken source that answers
    with the request's own Authorization header instead of JSON (what a careless error path
    would then print)."""

    source_url: typing.ClassVar[str] = ""
    echo: typing.ClassVar[bool] = False
    authorized: typing.ClassVar[int] = 0

    def do_GET(self) -> None:
        given = self.headers.get("Authorization", "")
        if given != f"Bearer {HEAD_TOKEN}":
            self._answer(401, b'{"error": "unauthorized"}')
            return
        HeadSource.authorized += 1
        if HeadSource.echo:
            self._answer(200, f"{given} refused: try again".encode())
            return
        with psycopg.connect(HeadSource.source_url, connect_timeout=3) as conn:
            row = conn.execute("SELECT MAX(height) - 1 FROM blocks").fetchone()
        self._answer(200, f'{{"head": {{"height": "{row[0] if row else 0}"}}}}'.encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def head_source(world: World) -> Iterator[type[HeadSource]]:
    values = dict(
        line.split("=", 1)
        for line in (world.dir / "secrets.env").read_text().splitlines()
        if "=" in line
    )
    HeadSource.source_url = values["SOURCE_HOST_DB_URL"]
    HeadSource.echo, HeadSource.authorized = False, 0
    server = ThreadingHTTPServer(("127.0.0.1", HEAD_PORT), HeadSource)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield HeadSource
    finally:
        server.shutdown()
        server.server_close()


def _secrets(world: World) -> list[str]:
    return [world.password, WEBHOOK_TOKEN, HEAD_TOKEN]


def _assert_nowhere(world: World, texts: list[str], webhook: type[WebhookSink]) -> None:
    for text in texts + webhook.bodies:
        for secret in _secrets(world):
            assert secret not in text
    for path in world.state.iterdir():  # the store (db, -wal), agent.log, holder, …
        if path.is_file():
            data = path.read_bytes()
            for secret in _secrets(world):
                assert secret.encode() not in data, (path.name, secret[:6])


def _header_config(world: World) -> Path:
    with (world.dir / "secrets.env").open("a") as secrets_file:
        secrets_file.write(f"HEAD_TOKEN={HEAD_TOKEN}\n")
    text = world.config.read_text()
    sql_head = 'kind = "sql"\nquery = "SELECT MAX(height) - 1 FROM blocks"\n'
    assert sql_head in text
    http_head = (
        f'kind = "http"\nurl = "http://127.0.0.1:{HEAD_PORT}/head"\nfield = "head.height"\n'
        'headers = { Authorization = "Bearer ${HEAD_TOKEN}" }\n'
    )
    path = world.dir / "header-head.toml"
    path.write_text(text.replace(sql_head, http_head))
    return path


def test_status_history_logs_and_notifications_carry_no_secret(
    world: World, webhook: type[WebhookSink]
) -> None:
    world.ensure_baseline()
    bodies_before = len(webhook.bodies)
    outputs = []
    for args in (
        ("switch", "--yes"),
        ("rollback", "--yes"),
        ("status", "--json"),
        ("status",),
        ("history", "--json"),
        ("history", "--limit", "500"),
        ("logs", "blue", "--tail", "100000"),
        ("logs", "green", "--tail", "100000"),
    ):
        code, out = world.cli(*args)
        assert code == 0, (args, out[-500:])
        outputs.append(out)
    # Each secret really flowed: the log shown had the password line (masked), notifications
    # were sent to the URL with the token, and the status names what it read.
    assert "***" in outputs[6] + outputs[7], "the container's password line was shown masked"
    assert len(webhook.bodies) > bodies_before
    assert any(WEBHOOK_TOKEN in path for path in webhook.paths)
    assert '"live": "blue"' in outputs[2] and "switch" in outputs[4]
    _assert_nowhere(world, outputs, webhook)


def test_an_http_sources_authorization_header_never_shows(
    world: World, webhook: type[WebhookSink], head_source: type[HeadSource]
) -> None:
    world.ensure_baseline()
    copy = _header_config(world)
    outputs = []
    world.stop_agent()
    try:
        code, out = world.cli("config", "check", "--probe", config=copy)
        outputs.append(out)
        assert code == 0 and "head" in out, out
        world.start_agent(copy)

        def head_read() -> bool:
            code, out = world.cli("status", "--json", config=copy)
            outputs.append(out)
            return code == 0 and head_source.authorized >= 3

        world.wait_for("the agent reading the head with the header", head_read, 30)
        head_source.echo = True  # now the source answers with the header itself

        def error_shown() -> bool:
            code, out = world.cli("status", "--json", config=copy)
            outputs.append(out)
            return code == 0 and "did not answer JSON" in out

        world.wait_for("the head's failure in status", error_shown, 30)
        assert "***" in outputs[-1]  # the echoed header, masked inside the sentence
        for args in (("status",), ("history", "--json"), ("config", "check", "--probe")):
            code, out = world.cli(*args, config=copy)
            outputs.append(out)
    finally:
        world.stop_agent()
        world.start_agent()
    _assert_nowhere(world, outputs, webhook)
    assert world.status()["live"] == "blue"
