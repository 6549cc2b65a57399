"""Who may move traffic, on real parts, as unprivileged users the test creates.

A private nginx (Lua) with bluegreen's include, a real state dir with the store and an agent log,
a 0640 secrets file, `operators_group` set. `bgsec-out` is an ordinary local user; `bgsec-op` is a
member of the operators group. The outsider cannot switch through the admin socket or the
opted-in TCP port (and traffic does not move), cannot read the store, secrets, token or logs, and
cannot take the operator lock — each refusal one sentence; the member can switch and is recorded
by name.
"""

from __future__ import annotations

import grp
import os
import re
import stat
import time
from collections.abc import Iterator

import httpx
import pytest

from console.core.model import SlotState, SlotStatus
from console.core.store.store import Store
from console.drivers.proxy.nginx.admin import TOKEN_FILE
from tests import ports
from tests.security.security_site import Site, local_users, site_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PORT_RANGE = ports.ACCESS_MODEL
GROUP, OUTSIDER, MEMBER = "bgsec-ops", "bgsec-out", "bgsec-op"
PLANTED = "PLANTED-" + os.urandom(6).hex()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with (
        local_users(GROUP, {OUTSIDER: False, MEMBER: True}),
        site_up(PORT_RANGE, "operators_group", GROUP, PLANTED, secrets_group_readable=True) as made,
    ):
        yield made


def test_state_dir_is_group_owned_and_closed_to_others(site: Site) -> None:
    gid = grp.getgrnam(GROUP).gr_gid
    info = site.state.stat()
    assert (info.st_gid, stat.S_IMODE(info.st_mode)) == (gid, 0o2770)
    for path in site.state.iterdir():
        if path.is_file():
            mode = stat.S_IMODE(path.stat().st_mode)
            assert path.stat().st_gid == gid and mode & 0o007 == 0, (path.name, oct(mode))


def test_outsider_cannot_switch_through_the_admin_socket(site: Site) -> None:
    assert site.socket.is_socket()
    url = "http://admin/bluegreen/live?color=green"
    tried = site.as_user(
        OUTSIDER, "curl", "-sS", "--unix-socket", str(site.socket), "-X", "POST", url
    )
    assert tried.returncode != 0 and "green" not in tried.stdout, tried
    assert "Permission denied" in tried.stderr or "Couldn't connect" in tried.stderr, tried.stderr
    assert site.served() == {"blue"}
    # The member reaches it (read only here; the switch itself is the last test).
    allowed = site.as_user(
        MEMBER, "curl", "-sS", "--unix-socket", str(site.socket), "http://a/bluegreen/live"
    )
    assert allowed.returncode == 0 and allowed.stdout.strip() == "blue", allowed


def test_outsider_cannot_switch_through_the_opted_in_tcp_port(site: Site) -> None:
    port = site.nginx.admin_port
    text = site.config.read_text()
    site.config.write_text(text + f'admin_url = "http://127.0.0.1:{port}"\n')
    try:
        code, out = site.cli("proxy", "install", "--reload")
        assert code == 0, out
        url = f"http://127.0.0.1:{port}/bluegreen/live?color=green"
        tried = site.as_user(
            OUTSIDER, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url
        )
        assert tried.stdout == "403", tried
        assert site.served() == {"blue"}
        token = site.state / TOKEN_FILE
        assert token.exists() and stat.S_IMODE(token.stat().st_mode) == 0o660  # group: operators
        peek = site.as_user(OUTSIDER, "cat", str(token))
        assert peek.returncode != 0 and "Permission denied" in peek.stderr
    finally:
        site.config.write_text(text)
        code, out = site.cli("proxy", "install", "--reload")
        assert code == 0, out
    with httpx.Client(trust_env=False, timeout=2) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/bluegreen/live")  # the TCP door is closed again
    assert site.served() == {"blue"}


def test_outsider_cannot_read_store_secrets_token_or_logs(site: Site) -> None:
    targets = [
        site.state / "bluegreen.db",
        site.state / TOKEN_FILE,
        site.state / "agent.log",
        site.base / "secrets.env",
    ]
    for path in targets:
        assert path.exists(), path
        peek = site.as_user(OUTSIDER, "cat", str(path))
        assert peek.returncode != 0 and PLANTED not in peek.stdout, path
        assert "Permission denied" in peek.stderr, (path, peek.stderr)
    listing = site.as_user(OUTSIDER, "ls", str(site.state))
    assert listing.returncode != 0


def test_outsider_gets_one_sentence_and_cannot_take_the_lock(site: Site) -> None:
    # With the real config the secrets file already stops them; say so in one sentence.
    for args in (("switch", "--yes", "--force"), ("status",), ("rollback", "--yes")):
        code, out = site.cli_as(OUTSIDER, *args)
        assert code != 0 and "Traceback" not in out and PLANTED not in out, (args, out)
        assert len([line for line in out.splitlines() if line.strip()]) == 1, out
    # A config without secrets reaches the access check itself.
    plain = site.base / "plain.toml"
    text = re.sub(r"\$\{SOURCE_DB\}", "postgresql://x@127.0.0.1:9/db", site.config.read_text())
    plain.write_text(re.sub(r"^secrets_file = .*$", "", text, flags=re.M))
    os.chmod(plain, 0o644)
    code, out = site.cli_as(OUTSIDER, "switch", "--yes", "--force", config=plain)
    assert code == 1 and "Traceback" not in out, out
    assert f"{OUTSIDER} may not switch on this installation" in out, out
    assert f"a member of the group '{GROUP}'" in out  # says who may
    code, out = site.cli_as(OUTSIDER, "proxy", "install", "--reload", config=plain)
    assert code == 1 and "Traceback" not in out, out
    assert f"{OUTSIDER} may not proxy install on this installation" in out, out
    assert f"a member of the group '{GROUP}'" in out
    took = site.try_operator_lock(OUTSIDER)
    assert "TOOK THE LOCK" not in took and "StateDirError" in took, took
    assert site.served() == {"blue"}


def test_member_can_switch_and_is_recorded_by_name(site: Site) -> None:
    store = Store.open(site.state)
    try:
        now = time.time()
        store.put_slot_status(SlotStatus("blue", SlotState.LIVE, container_state="running",
                                         ready=True, updated_at=now))  # fmt: skip
        store.put_slot_status(SlotStatus("green", SlotState.READY, container_state="running",
                                         ready=True, updated_at=now))  # fmt: skip
    finally:
        store.close()
    code, out = site.cli_as(MEMBER, "switch", "--yes")
    assert code == 0, out
    assert site.served() == {"green"}
    store = Store.open(site.state)
    try:
        assert store.live() == "green"
        switched = [e for e in store.events(limit=50) if e.kind == "switch"]
        assert switched and switched[-1].actor == MEMBER, switched
    finally:
        store.close()
    gid = grp.getgrnam(GROUP).gr_gid
    for path in site.state.iterdir():  # what the member wrote stays the group's, not the world's
        if path.is_file():
            assert path.stat().st_gid == gid and stat.S_IMODE(path.stat().st_mode) & 0o007 == 0
