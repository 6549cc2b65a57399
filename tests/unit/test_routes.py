"""Preview and canary routes: the rendered proxy files, the config keys, and the core canary
operation on a real store and operator lock with a fake proxy (pure decisions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from console.core.config.load import ConfigError, parse_config
from console.core.config.proxy import NginxProxyConfig
from console.core.config.schema import Config, SlotConfig
from console.core.contracts.proxy import ProxyError, ReadBack, SwitchResult
from console.core.installation import Installation
from console.core.model import Actor, Canary, Color, Outcome, SlotState, SlotStatus
from console.core.ops import canary
from console.drivers.proxy.haproxy.backend import render_backend
from console.drivers.proxy.haproxy.routes import (
    parse_map_file,
    parse_show_map,
    render_map,
    set_map_command,
)
from console.drivers.proxy.nginx.render import (
    NginxLayout,
    parse_persisted,
    render_http_conf,
    render_location_conf,
)
from console.drivers.proxy.nginx.routes import (
    parse_canary_value,
    parse_persisted_canary,
)
from console.drivers.proxy.routes import Routes
from console.wiring import open_console, open_installation

PREVIEW = Routes(preview=True)
LIVE = NginxLayout(mode="live", blue_port=8081, green_port=8082, admin_socket="/s", routes=PREVIEW)
RELOAD = NginxLayout(mode="reload", blue_port=8081, green_port=8082, routes=PREVIEW)
ACTOR = Actor("tester")


# ── nginx ──


@pytest.mark.parametrize("layout", [LIVE, RELOAD])
def test_the_canary_round_trips_through_the_file(layout: NginxLayout) -> None:
    text = render_http_conf(layout, "blue", Canary("green", 10))
    assert parse_persisted(text) == "blue"
    assert parse_persisted_canary(text) == Canary("green", 10)
    assert parse_persisted_canary(render_http_conf(layout, "blue")) is None
    # nothing live: no canary can be recorded
    assert parse_persisted_canary(render_http_conf(layout, None, Canary("green", 10))) is None


def test_canary_values_outside_1_to_99_are_none() -> None:
    assert parse_canary_value("green:10") == Canary("green", 10)
    for text in ("none", "green:0", "green:100", "red:10", "green:", "green:x"):
        assert parse_canary_value(text) is None


def test_live_mode_reads_the_canary_from_the_dict_with_the_file_as_fallback() -> None:
    text = render_http_conf(LIVE, "blue", Canary("green", 25))
    assert 'map $host $bluegreen_rendered_canary {\n    default "green:25";' in text
    assert "location = /bluegreen/canary {" in text
    # the canary endpoint refuses a canary for the live colour or with nothing live
    assert 'live ~= "blue" and live ~= "green" or live == color' in text
    # a switch ends the canary in the same admin request, unless it names the one to keep
    assert 'dict:set("canary", canary)' in text


def test_live_location_picks_preview_then_canary_before_counting() -> None:
    location = render_location_conf("live", PREVIEW)
    pick = location.index("ngx.var.http_x_bluegreen_preview or ngx.var.cookie_bluegreen_preview")
    canary_at = location.index("ngx.crc32_long(key) % 100 < tonumber(percent)")
    counted = location.index('t:incr(live .. ":open", 1, 0)')
    assert pick < canary_at < counted  # counted under the colour that serves the request
    assert "ngx.var.cookie_bluegreen_canary" in location and "ngx.var.remote_addr" in location
    assert "http_x_bluegreen_preview" not in render_location_conf("live")  # preview is opt-in


def test_reload_mode_without_routes_is_unchanged() -> None:
    plain = NginxLayout(mode="reload", blue_port=8081, green_port=8082)
    text = render_http_conf(plain, "green")
    assert "127.0.0.1:8081;" not in text and "split_clients" not in text
    assert "proxy_pass http://bluegreen_backend;" in render_location_conf("reload")


def test_reload_mode_splits_clients_over_per_colour_upstreams() -> None:
    text = render_http_conf(RELOAD, "blue", Canary("green", 10))
    assert 'split_clients "${bluegreen_canary_key}" $bluegreen_canary_pick {' in text
    assert "    10% green;\n    * blue;" in text
    assert '"" $remote_addr;\n    default $cookie_bluegreen_canary;' in text
    assert "upstream bluegreen_blue {" in text and "upstream bluegreen_green {" in text
    assert '"~^green$" green;' in text  # exact, as in Lua and HAProxy (plain map keys ignore case)
    location = render_location_conf("reload", PREVIEW, per_colour=True)
    assert "proxy_pass http://bluegreen_$bluegreen_live;" in location
    assert "add_header X-Bluegreen-Canary $bluegreen_canary_seen always;" in location


# ── HAProxy ──


def test_haproxy_backend_routes_by_preview_then_the_canary_map() -> None:
    text = render_backend("bluegreen", 8081, 8082, "blue", PREVIEW, Path("/etc/bg/r.map"))
    assert "if { req.hdr(X-Bluegreen-Preview) -m str blue green }" in text
    assert "str(color),map(/etc/bg/r.map,none)" in text
    assert "var(txn.bg_key),crc32,mod(100)" in text
    assert "use-server %[var(txn.bg_pick)] if { var(txn.bg_pick) -m found }" in text
    assert text.index("use-server") < text.index("server blue")
    assert "X-Bluegreen-Preview" not in render_backend(
        "bluegreen", 8081, 8082, "blue", Routes(), Path("/m")
    )


def test_haproxy_map_file_and_runtime_answers() -> None:
    assert parse_map_file(render_map(Canary("green", 10))) == Canary("green", 10)
    assert parse_map_file(render_map(None)) is None
    answer = "0x55d1c0 color green\n0x55d1c8 percent 15\n\n"
    assert parse_show_map(answer) == Canary("green", 15)
    assert parse_show_map("Unknown map identifier. Please use #<id> or <file>.\n") is None
    start = set_map_command(Path("/m"), Canary("green", 10))
    assert start.index("color green") < start.index("percent 10")  # share last when starting
    end = set_map_command(Path("/m"), None)
    assert end.index("percent 0") < end.index("color none")  # share first when ending


# ── config ──


def test_route_keys_are_checked_before_they_reach_a_proxy_file() -> None:
    base = '[image]\nrepository = "x"\n' + "".join(
        f'[slots.{c}]\ncontainer = "s-{c}"\nhost_port = {p}\n'
        for c, p in (("blue", 1), ("green", 2))
    )
    config = parse_config(base + "[proxy]\npreview = true\n")
    assert config.proxy.preview and config.proxy.preview_header == "X-Bluegreen-Preview"
    with pytest.raises(ConfigError, match=r"proxy\.preview_header"):
        parse_config(base + '[proxy]\npreview_header = "X Preview"\n')
    with pytest.raises(ConfigError, match=r"proxy\.canary_cookie"):
        parse_config(base + '[proxy]\ncanary_cookie = "kamal-rollout"\n')


# ── the core operation ──


@dataclass
class FakeProxy:
    live: Color = "blue"
    running: Canary | None = None
    refuse: bool = False
    calls: list[Canary | None] = field(default_factory=list)
    name: str = "fake"

    def read_back(self) -> ReadBack:
        return ReadBack(True, self.live, self.running)

    def current(self) -> Color | None:
        return self.live

    def persisted(self) -> Color | None:
        return self.live

    def persisted_canary(self) -> Canary | None:
        return self.running

    def set_canary(self, wanted: Canary | None) -> None:
        self.calls.append(wanted)
        if self.refuse:
            raise ProxyError("The proxy refused.", read_back=self.read_back())
        self.running = wanted

    def install(self, live: Color, wanted: Canary | None = None) -> None:
        self.live, self.running = live, wanted

    def switch(self, to: Color) -> SwitchResult:
        self.live, self.running = to, None
        return SwitchResult(to, 1.0, True, "switched")


@pytest.fixture
def inst(tmp_path: Path) -> Installation:
    slots = {"blue": SlotConfig("svc-blue", 1), "green": SlotConfig("svc-green", 2)}
    config = Config(state_dir=str(tmp_path / "state"), slots=slots, proxy=NginxProxyConfig())
    installation = open_installation(config)
    installation.__dict__["proxy"] = FakeProxy()
    installation.store.set_live("blue", None)
    return installation


def _ready(inst: Installation, ready: bool = True) -> None:
    for color, state in (("blue", SlotState.LIVE), ("green", SlotState.READY)):
        inst.store.put_slot_status(
            SlotStatus(
                color,  # type: ignore[arg-type]
                state=state,
                container_state="running",
                ready=ready or color == "blue",
                version="v2" if color == "green" else "v1",
                updated_at=time.time(),
            )
        )


def _outcome(events: object) -> Outcome:
    found = [e for e in events if isinstance(e, Outcome)]  # type: ignore[attr-defined]
    assert len(found) == 1
    return found[0]


def test_a_canary_goes_to_the_ready_idle_colour_and_is_recorded(inst: Installation) -> None:
    _ready(inst)
    outcome = _outcome(canary.start(inst, ACTOR, 10))
    assert outcome.ok and "10 % of clients to green (v2)" in outcome.text
    assert inst.store.canary() == Canary("green", 10)
    assert inst.proxy.read_back().canary == Canary("green", 10)
    event = inst.store.events()[-1]
    assert event.kind == "canary" and event.actor == "tester" and event.color == "green"
    assert not inst.lock.holder()  # released


def test_a_canary_needs_the_gate_unless_forced(inst: Installation) -> None:
    _ready(inst, ready=False)
    outcome = _outcome(canary.start(inst, ACTOR, 10))
    assert not outcome.ok and "green is not ready" in outcome.text
    assert inst.store.canary() is None and inst.proxy.read_back().canary is None
    assert _outcome(canary.start(inst, ACTOR, 10, force=True)).ok
    assert any(e.kind == "forced" for e in inst.store.events())


@pytest.mark.parametrize("percent", [0, 100, 150, -1])
def test_shares_outside_1_to_99_are_refused_with_a_sentence(
    inst: Installation, percent: int
) -> None:
    _ready(inst)
    outcome = _outcome(canary.start(inst, ACTOR, percent))
    assert not outcome.ok and outcome.text.startswith("Canary refused:")


def test_nothing_live_means_no_canary(inst: Installation) -> None:
    inst.store.set_live(None, None)
    _ready(inst)
    outcome = _outcome(canary.start(inst, ACTOR, 10))
    assert not outcome.ok and "nothing is live yet" in outcome.text


def test_abort_sends_everyone_back_and_says_why(inst: Installation) -> None:
    _ready(inst)
    _outcome(canary.start(inst, ACTOR, 10))
    outcome = _outcome(canary.abort(inst, Actor("agent"), reason="5xx 12 % > 1 %"))
    assert outcome.ok and "because 5xx 12 % > 1 %" in outcome.text and "was 10 %" in outcome.text
    assert inst.store.canary() is None and inst.proxy.read_back().canary is None
    assert inst.store.events()[-1].actor == "agent"
    assert _outcome(canary.abort(inst, ACTOR)).ok  # nothing running: nothing to do


def test_a_refused_change_leaves_the_store_on_what_the_proxy_does(inst: Installation) -> None:
    _ready(inst)
    inst.proxy.refuse = True  # type: ignore[attr-defined]
    outcome = _outcome(canary.start(inst, ACTOR, 10))
    assert not outcome.ok and "the proxy sends no canary (read back)" in outcome.text
    assert inst.store.canary() is None
    assert inst.store.events()[-1].kind == "failure"


def test_promote_is_the_full_switch_and_ends_the_canary(inst: Installation) -> None:
    _ready(inst)
    refused = _outcome(canary.promote(inst, ACTOR))
    assert not refused.ok and "no canary is running" in refused.text
    _outcome(canary.start(inst, ACTOR, 10))
    outcome = _outcome(canary.promote(inst, ACTOR))
    assert outcome.ok and inst.store.live() == "green" and inst.store.previous() == "blue"
    assert inst.store.canary() is None


def test_a_deploy_into_the_canary_colour_ends_the_canary_first(inst: Installation) -> None:
    _ready(inst)
    _outcome(canary.start(inst, ACTOR, 10))
    with inst.lock.acquire("deploy", ACTOR):  # as deploy holds it
        events = canary.end_canary_to(inst, "green", ACTOR, "explorer:v3 replaces green")
        seen = []
        try:
            while True:
                seen.append(next(events))
        except StopIteration as done:
            ended = done.value
    assert ended is True and inst.store.canary() is None
    assert not any(isinstance(e, Outcome) for e in seen)  # the deploy owns the outcome
    assert inst.proxy.read_back().canary is None


@pytest.mark.parametrize(
    ("share", "said"),
    [("foo", "give a share"), ("150", "1-99"), ("0", "canary abort"), ("100", "promote")],
)
def test_the_cli_refuses_a_share_that_is_not_one_before_anything_opens(
    capsys: pytest.CaptureFixture[str], share: str, said: str
) -> None:
    from console.cli import main

    assert main(["--config", "/nonexistent/bluegreen.toml", "canary", share]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_read_only_refuses_every_canary_path_before_the_lock(inst: Installation) -> None:
    from console.core.ops.operation import ReadOnlyError

    _ready(inst)
    console = open_console(inst.config, read_only=True)
    attempts: dict[str, Callable[[], object]] = {
        "Console.canary": lambda: console.canary(10),
        "Console.canary_abort": console.canary_abort,
        "Console.canary_promote": console.canary_promote,
        "canary.start": lambda: next(canary.start(inst, ACTOR, 10, read_only=True)),
        "canary.abort": lambda: next(canary.abort(inst, ACTOR, read_only=True)),
    }
    for path, attempt in attempts.items():
        with pytest.raises(ReadOnlyError, match="read-only"):
            attempt()
        assert inst.lock.holder() is None, path
    assert inst.store.canary() is None and inst.store.events() == []
    console.close()
