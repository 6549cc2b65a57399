"""Edges of mixed kinds, an HAProxy edge reached over TCP, and [sessions] across edges (issue 25.3):
the config, the build, and the composite's sessions rule all or none over fake edges. Real
proxies: tests/integration/test_edges_mixed.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from console.agent.sessions_watch import SessionWatch
from console.core.actor import AGENT_ACTOR as OPERATOR
from console.core.config.load import ConfigError, parse_config
from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions, keeps_sessions
from console.core.lock import OperatorLock
from console.core.measures.sessions import Migration
from console.core.store.sessions import set_migration
from console.core.store.store import Store
from console.drivers.proxy import make_proxy
from console.drivers.proxy.edges.sessions import DIFFERING, SessionEdgeSet
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.haproxy.transport import tcp_address
from console.drivers.proxy.nginx.live import NginxLiveDriver
from tests.unit.test_edges import FakeEdge, edge_set
from tests.unit.test_proxy_config import BASE

MIXED = (
    '[proxy]\nadmin_url = "http://10.82.0.9:29810"\nproxy_url = "http://10.82.0.9:29811"\n'
    'probe_path = "/ready"\n'
    '[[proxy.edges]]\nname = "edge-h"\nkind = "haproxy"\nproxy_url = "http://10.82.0.2:80"\n'
    'admin_socket = "ipv4@10.82.0.2:9999"\ninclude_dir = "/srv/edge-h/bluegreen"\n'
    'backend = "web"\n'
)
SESSIONS = '[sessions]\ncookie = "deployment"\ncount_cookie = "sid"\n'


def test_an_haproxy_edge_beside_an_nginx_proxy_gets_its_own_driver_and_the_shared_keys() -> None:
    proxy = make_proxy(parse_config(BASE + MIXED))
    assert isinstance(proxy, SessionEdgeSet)  # nginx live and HAProxy both keep sessions
    default, haproxy = (edge.driver for edge in proxy.edges)
    assert isinstance(default, NginxLiveDriver) and isinstance(haproxy, HaproxyDriver)
    assert haproxy.socket_path == "ipv4@10.82.0.2:9999" and haproxy.backend == "web"
    assert haproxy.client_url == "http://10.82.0.2:80/ready"  # probe_path is shared
    assert haproxy.proxy.test_command == []  # HAProxy's default, not nginx's `nginx -t`
    assert proxy.name == "2 edge proxies, nginx (live) and haproxy (runtime API)"
    assert proxy.edges[1].host == "10.82.0.2"


def test_sessions_are_accepted_across_edges_now() -> None:
    config = parse_config(BASE + MIXED + SESSIONS)
    assert config.sessions.proxy_counted
    assert keeps_sessions(make_proxy(config)) is not None


@pytest.mark.parametrize(
    ("edge", "problem"),
    [
        ('kind = "traefik"\n', "is not a proxy bluegreen drives"),
        ('kind = "haproxy"\nmode = "reload"\n', "mode 'reload' is for an nginx edge"),
        ('backend = "web"\n', "backend is for an HAProxy edge"),
        ('kind = "haproxy"\nadmin_url = "http://10.82.0.3:1"\n', "admin_url is for nginx"),
    ],
)
def test_kind_keys_that_do_not_fit_the_edge_are_sentences(edge: str, problem: str) -> None:
    text = (
        BASE
        + '[proxy]\nadmin_url = "http://10.82.0.9:1"\n'
        + '[[proxy.edges]]\nname = "e2"\nproxy_url = "http://10.82.0.3:80"\n'
        + 'admin_socket = "/run/e2.sock"\n'
        + edge
    )
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    assert problem in str(refused.value)


def test_p99_limits_are_refused_when_an_edge_is_haproxy() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + MIXED + "[analysis]\nmax_p99_ms = 500\n")
    assert "HAProxy edge 'edge-h' does not give" in str(refused.value)


def test_the_runtime_api_address_is_tcp_or_a_unix_path() -> None:
    assert tcp_address("ipv4@10.82.0.2:9999") == ("10.82.0.2", 9999)
    assert tcp_address("tcp://edge-2:9999") == ("edge-2", 9999)
    assert tcp_address("ipv6@[fd00::2]:9999") == ("fd00::2", 9999)
    assert tcp_address("/run/haproxy/admin.sock") is None


class SessionFake(FakeEdge):
    """A fake edge that also keeps sessions and counts them."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.kept: KeptSessions | None = None
        self.seen: dict[str, int] | None = {"blue": 0, "green": 0}

    def set_sessions(self, kept: KeptSessions | None) -> None:
        self._change(f"sessions {kept}")
        self.kept = kept

    def kept_sessions(self) -> KeptSessions | None:
        return None if self.silent else self.kept

    def sessions_seen(self) -> dict[str, int] | None:
        if self.silent:
            raise ProxyError("HAProxy did not answer.")
        return self.seen


def session_edges() -> tuple[SessionEdgeSet, list[SessionFake]]:
    plain, fakes = edge_set(2)
    swapped = [SessionFake(plain.journal) for _ in fakes]
    for edge, fake in zip(plain.edges, swapped, strict=True):
        object.__setattr__(edge, "driver", fake)
    composite = SessionEdgeSet(plain.edges, 1.0)
    composite.keep_intent_in(plain.journal)
    composite.change_bound = 5.0
    return composite, swapped


KEPT = KeptSessions("blue", "v1", "green")


def test_the_sessions_rule_goes_to_every_edge_or_is_put_back_on_every_one() -> None:
    composite, (first, second) = session_edges()
    composite.set_sessions(KEPT)
    assert [first.kept, second.kept] == [KEPT, KEPT] and composite.kept_sessions() == KEPT
    composite.set_sessions(None)
    second.fail_next = True
    with pytest.raises(ProxyError) as failed:
        composite.set_sessions(KEPT)
    text = str(failed.value)
    assert "failed on edge edge-2 (10.80.0.3)" in text, text
    assert "edge default (10.80.0.2) keeps no sessions rule" in text, text
    assert [first.kept, second.kept] == [None, None]
    assert first.calls[-2:] == [f"sessions {KEPT}", "sessions None"]  # set, then put back


def test_a_silent_edge_refuses_the_rule_before_anything_is_sent() -> None:
    composite, (first, second) = session_edges()
    second.silent = True
    with pytest.raises(ProxyError) as refused:
        composite.set_sessions(KEPT)
    assert "edge edge-2 (10.80.0.3) did not answer" in str(refused.value)
    assert first.calls == [] and first.kept is None


def test_edges_with_different_rules_read_as_a_rule_nobody_wants() -> None:
    composite, (first, _second) = session_edges()
    first.kept = KEPT  # the other edge restarted without it
    assert composite.kept_sessions() == DIFFERING != KEPT


def test_sessions_are_summed_over_edges_and_not_counted_while_one_is_silent() -> None:
    composite, (first, second) = session_edges()
    first.seen, second.seen = {"blue": 2, "green": 5}, {"blue": 1, "green": 0}
    assert composite.sessions_seen() == {"blue": 3, "green": 5}
    second.silent = True
    with pytest.raises(ProxyError) as silent:
        composite.sessions_seen()
    assert "edge edge-2 (10.80.0.3)" in str(silent.value) and "no sum" not in str(silent.value)
    first.seen = second.seen = None
    second.silent = False
    assert composite.sessions_seen() is None  # the application counts ([sessions.source])


def test_the_agents_session_watch_puts_the_rule_back_on_the_edge_that_lost_it(
    tmp_path: Path,
) -> None:
    composite, (first, second) = session_edges()
    config = parse_config(BASE + MIXED + SESSIONS)
    store = Store.open(tmp_path)
    store.set_live("green", "blue")
    set_migration(store, Migration("blue", "green", "v1", 1.0, 9e9, "auto", 2))
    first.kept, second.kept = KEPT, None  # edge-2 restarted without the rule
    logged: list[str] = []
    watch = SessionWatch(
        config, store, composite, OperatorLock(str(tmp_path)), OPERATOR, logged.append, 5.0
    )
    watch.tick(time.time(), {"blue": True, "green": True})
    assert [first.kept, second.kept] == [KEPT, KEPT], logged
    assert "restored" in logged[-1]
    watch.close()
    store.close()
