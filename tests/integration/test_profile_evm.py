"""Issue 9's acceptance for an EVM indexer: the `evm` sandbox profile (real Docker, nginx, a
JSON-RPC chain on this host) shows head, height, lag and ETA read from `eth_blockNumber` (hex)
and from the indexer's own `/status`, and gates on them: a sticky `/ready` that says yes early
does not make a colour ready while its lag is above max_lag."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.core.config.load import load_config
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PORT_BASE = ports.PROFILE_EVM.start
HISTORY = 3000
V2_SPEED = 120  # blocks/s: v2 needs ~25 s to catch up, long enough to watch the gate hold


@pytest.fixture(scope="module")
def evm() -> Iterator[Sandbox]:
    world = bring_up(profile="evm", history=HISTORY, port_base=PORT_BASE)
    try:
        yield world
    finally:
        tear_down(world.dir)


def chain_head(port: int) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    answer = httpx.post(f"http://127.0.0.1:{port}", json=body, timeout=2).json()
    assert isinstance(answer["result"], str) and answer["result"].startswith("0x")
    return int(answer["result"], 16)


def test_evm_profile_is_up_with_a_json_rpc_chain_and_no_database(evm: Sandbox) -> None:
    state = evm.sandbox_status()
    assert state["up"] is True and state["profile"] == "evm"
    assert state["running"] == {"chain": True, "nginx": True}
    assert "db_url" not in evm.config.read_text()
    status = evm.status()
    blue = status["slots"]["blue"]
    assert status["live"] == "blue" and blue["state"] == "live"
    head = chain_head(state["ports"]["rpc"])
    assert head >= HISTORY
    assert blue["head"] is not None and abs(blue["head"] - head) <= 3
    assert blue["height"] is not None and blue["lag"] is not None and blue["lag"] <= 2
    assert evm.served_by() == "blue"


def test_head_height_lag_eta_from_json_rpc_and_http_and_the_gate_holds_on_lag(
    evm: Sandbox,
) -> None:
    config = load_config(str(evm.config))
    max_lag = config.readiness.max_lag
    rpc_port = evm.sandbox_status()["ports"]["rpc"]
    green_port = config.slots["green"].host_port
    # READY_LAG: green's own /ready turns 200 at once (as Ponder's does mid-backfill).
    result = evm.cli(
        "deploy",
        "v2",
        "--switch",
        "never",
        "--env",
        f"INDEX_SPEED={V2_SPEED}",
        "--env",
        "READY_LAG=1000000",
    )
    assert result.returncode == 0, result.stdout + result.stderr

    behind: list[dict] = []  # type: ignore[type-arg]
    ready: dict | None = None  # type: ignore[type-arg]
    deadline = time.monotonic() + 120
    while ready is None and time.monotonic() < deadline:
        green = evm.status()["slots"]["green"]
        assert green["state"] != "failed", green["reason"]
        if green["lag"] is not None and green["lag"] > max_lag:
            assert green["state"] != "ready" and not green["ready"], green
            own = httpx.get(f"http://127.0.0.1:{green_port}/status", timeout=2).json()
            assert own["ready"] is True  # the indexer says ready …
            behind.append({**green, "own_block": own["block"], "chain": chain_head(rpc_port)})
        if green["state"] == "ready":
            ready = green
        time.sleep(0.5)
    assert ready is not None, "green never became ready"
    assert len(behind) >= 3, "green caught up too fast to watch the gate hold"

    sample = behind[len(behind) // 2]
    # Head from eth_blockNumber (hex), height from /status: both match their sources.
    assert abs(sample["head"] - sample["chain"]) <= 3, sample
    assert 0 <= sample["own_block"] - sample["height"] <= V2_SPEED * 3, sample
    assert sample["lag"] == sample["head"] - sample["height"]
    assert any(s["eta_seconds"] is not None and s["eta_seconds"] > 0 for s in behind), behind
    assert any(s["speed"] and s["speed"] > V2_SPEED / 3 for s in behind), behind
    # … and the gate names the lag as what is missing while the readiness check passes.
    conditions = {c["name"]: c for c in sample["conditions"]}
    lag_rows = [c for name, c in conditions.items() if "lag" in name]
    ready_rows = [c for name, c in conditions.items() if "ready" in name]
    assert lag_rows and not lag_rows[0]["met"], conditions
    assert ready_rows and ready_rows[0]["met"], conditions

    assert ready["lag"] is not None and ready["lag"] <= max_lag
    assert all(c["met"] for c in ready["conditions"]), ready["conditions"]
    result = evm.cli("switch", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert evm.served_by() == "green"
    assert json.loads(httpx.get(f"{evm.proxy_url}/status").text)["version"] == "v2"
    result = evm.cli("rollback", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert evm.served_by() == "blue"


def with_candidate(evm: Sandbox, section: str, name: str) -> Path:
    """A copy of the sandbox config whose [candidate] is `section`."""
    text = re.sub(
        r"\[candidate\]\n.*?\n(?=\[)", lambda _: section + "\n", evm.config.read_text(), flags=re.S
    )
    path = evm.dir / name
    path.write_text(text)
    return path


def test_config_check_probe_prints_the_readings_and_names_a_wrong_field(evm: Sandbox) -> None:
    result = evm.cli("config", "check", "--probe")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    found = re.search(r"· head\s+jsonrpc: ([\d,]+)", out)
    assert found, out
    head = int(found.group(1).replace(",", ""))
    assert abs(head - chain_head(evm.sandbox_status()["ports"]["rpc"])) <= 3
    for color in ("blue", "green"):
        assert re.search(rf"· {color}\s+http: height [\d,]+", out), out

    wrong = with_candidate(
        evm,
        '[candidate]\nkind = "http"\nurl = "http://127.0.0.1:{host_port}/status"\nfield = "blok"\n',
        "wrong-field.toml",
    )
    result = evm.cli("config", "check", "--probe", config=wrong)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "blok" in out and "Traceback" not in out


CANDIDATES = {
    # The same indexer read two other ways: its Prometheus gauge and its JSON log lines.
    "prometheus": (
        '[candidate]\nkind = "prometheus"\nurl = "http://127.0.0.1:{host_port}/metrics"\n'
        'metric = "evm_indexer_last_block"\nlabels = { chain = "1337" }\n'
    ),
    "log": """[candidate]\nkind = "log"\npattern = '"last": (\\d+)'\n""",
}


@pytest.mark.parametrize("kind", sorted(CANDIDATES))
def test_a_prometheus_or_log_candidate_tracks_the_indexer(evm: Sandbox, kind: str) -> None:
    config = with_candidate(evm, CANDIDATES[kind], f"candidate-{kind}.toml")
    result = evm.cli("config", "check", "--probe", config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{kind}: height" in result.stdout
    stop_agent(evm)  # the agent `deploy` starts reads this config
    result = evm.cli(
        "deploy", "v2", "--switch", "never", "--wait", "--timeout", "90", config=config
    )
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(evm.cli("status", "--json", config=config).stdout)
    idle = next(
        s for s in status["slots"].values() if s["version"] == "v2" and s["state"] == "ready"
    )
    assert idle["height"] is not None and idle["height"] >= HISTORY
    assert idle["lag"] is not None and idle["lag"] <= 2
    stop_agent(evm)  # back to the sandbox's own config for the next test
