"""Secrets: with a known password in every database URL, a secret token in the webhook URL and a
container that prints its database URL, a full deploy → switch → rollback shows and stores none of
them — CLI output, agent.log, the store's files, notifications, the console's log lines."""

from __future__ import annotations

import stat
import subprocess

import pytest

from bench.chaos import DEPLOY_TAG
from console.core.config.load import load_config
from console.wiring import open_console
from tests.reliability.conftest import CLI_OUTPUTS, PORT_BASE, WEBHOOK_TOKEN, WebhookSink, World

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_no_secret_anywhere_after_a_full_cycle(world: World, webhook: type[WebhookSink]) -> None:
    secrets = [world.password, WEBHOOK_TOKEN]
    world.ensure_baseline()  # blue live, green deployed and ready
    for args in (("switch", "--yes"), ("rollback", "--yes"), ("history", "--json"), ("status",)):
        code, out = world.cli(*args)
        assert code == 0, (args, out)
    # The planted secrets really flowed: the container prints its URL with the password, and
    # notifications went to the URL carrying the token.
    raw_logs = subprocess.run(
        # The whole log: the URL is printed once at start, and a 3,000-block re-index writes more
        # than 3,000 lines after it.
        ["docker", "logs", f"{world.prefix}-blue"],
        capture_output=True,
        text=True,
    )
    assert world.password in raw_logs.stdout + raw_logs.stderr
    assert webhook.bodies and any(WEBHOOK_TOKEN in path for path in webhook.paths)

    assert CLI_OUTPUTS
    for text in CLI_OUTPUTS:
        for secret in secrets:
            assert secret not in text
    for path in world.state.iterdir():
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, path
    for body in webhook.bodies:
        for secret in secrets:
            assert secret not in body
    console = open_console(load_config(str(world.config)), read_only=True)
    try:
        # The whole logs (the URL line is at the start, before a 3,000-block re-index).
        lines = console.log_lines("blue", tail=50_000) + console.log_lines("green", tail=50_000)
        events = console.events(limit=10_000)
    finally:
        console.close()
    assert any("***" in line for line in lines), "the leaking line was seen and masked"
    for secret in secrets:
        assert not any(secret in line for line in lines)
        assert not any(secret in event.text for event in events)
    assert any(DEPLOY_TAG in e.text for e in events if e.kind == "deploy")


def test_the_admin_token_never_shows(world: World, webhook: type[WebhookSink]) -> None:
    """With the TCP admin endpoint opted in, its token stays in its 0600 file and nginx's include:
    never in CLI output, `status --json`, the store, agent.log or notifications."""
    world.ensure_baseline()
    port = PORT_BASE + 19
    copy = world.config_copy(
        "tcp-admin",
        **{r'^kind = "nginx"$': f'kind = "nginx"\nadmin_url = "http://127.0.0.1:{port}"'},
    )
    bodies_before = len(webhook.bodies)
    try:
        code, out = world.cli("proxy", "install", "--reload", config=copy)
        assert code == 0, out
        token_path = world.state / "nginx-admin.token"
        token = token_path.read_text().strip()
        assert len(token) >= 32 and stat.S_IMODE(token_path.stat().st_mode) == 0o600
        for args in (("switch", "--yes"), ("status", "--json"), ("rollback", "--yes"),
                     ("history", "--json"), ("proxy", "snippet")):  # fmt: skip
            code, out = world.cli(*args, config=copy)
            assert code == 0, (args, out)
            assert token not in out, args
    finally:
        code, out = world.cli("proxy", "install", "--reload")
        assert code == 0, out
    for path in world.state.iterdir():
        if path.is_file() and path != token_path:
            assert token.encode() not in path.read_bytes(), path
    assert len(webhook.bodies) > bodies_before  # the switch and rollback did notify
    assert not any(token in body for body in webhook.bodies)
    assert world.served() == {"blue"}
