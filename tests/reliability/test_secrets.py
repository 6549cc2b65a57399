"""Secrets: with a known password in every database URL, a secret token in the webhook URL and a
container that prints its database URL, a full deploy → switch → rollback shows and stores none of
them — CLI output, agent.log, the store's files, notifications, the console's log lines."""

from __future__ import annotations

import subprocess

import pytest

from bench.chaos import DEPLOY_TAG
from console.core.config import load_config
from console.core.service import Console
from tests.reliability.conftest import CLI_OUTPUTS, WEBHOOK_TOKEN, WebhookSink, World

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
        ["docker", "logs", "--tail", "3000", f"{world.prefix}-blue"],
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
    console = Console.open(load_config(str(world.config)), read_only=True)
    try:
        lines = console.log_lines("blue", tail=3000) + console.log_lines("green", tail=3000)
        events = console.events(limit=10_000)
    finally:
        console.close()
    assert any("***" in line for line in lines), "the leaking line was seen and masked"
    for secret in secrets:
        assert not any(secret in line for line in lines)
        assert not any(secret in event.text for event in events)
    assert any(DEPLOY_TAG in e.text for e in events if e.kind == "deploy")
