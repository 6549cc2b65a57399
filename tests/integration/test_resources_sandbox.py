"""Resources and disk-before-done end to end on the explorer sandbox (real Docker, PostgreSQL,
nginx, the agent): the live colour's figures agree with `docker stats` and `pg_database_size`,
and a candidate given a small `disk_budget_bytes` shows "fills before caught up", fails the gate
condition `free_disk_after_catchup`, and the warning is recorded; `[image] cpus` / `memory` cap
the candidate's container."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import docker
import psycopg
import pytest

from console.core.config.load import load_config
from tests import ports
from tests.integration.sandbox_fixture import bring_up, stop_agent, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PORT_BASE = ports.RESOURCES_SANDBOX.start
PROFILE_BUDGET = "disk_budget_bytes = 268435456"
SMALL_BUDGET = 1 << 20  # 1 MiB: less than any PostgreSQL database


def wait_status(world: Any, test: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = world.status()
        if test(status):
            return status
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen in {timeout:.0f} s: {json.dumps(status)[:3000]}")


def secret(world: Any, name: str) -> str:
    for line in (world.dir / "secrets.env").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{name} not in secrets.env")


def mem_bytes(text: str) -> float:
    value, unit = text.strip()[:-3], text.strip()[-3:]
    return float(value) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def test_figures_agree_and_a_small_budget_fails_the_gate() -> None:
    world = bring_up(history=3000, speed=1500, port_base=PORT_BASE)
    try:
        config = load_config(str(world.config))
        assert config.slot("blue").disk_budget_bytes == 256 << 20  # the profile's budget
        blue_container = config.slot("blue").container

        def measured(status: dict[str, Any]) -> bool:
            res = status["slots"]["blue"]["resources"]
            return all(res[k] is not None for k in ("cpu_percent", "memory_bytes", "db_size_bytes"))

        status = wait_status(world, measured, 60, "blue's resources")
        resources = status["slots"]["blue"]["resources"]
        theirs = json.loads(
            subprocess.run(
                ["docker", "stats", "--no-stream", "--format", "{{json .}}", blue_container],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
        )
        again = world.status()["slots"]["blue"]["resources"]
        their_memory = mem_bytes(theirs["MemUsage"].split("/")[0])
        # Between two published figures: the agent's and docker's reads are a second apart.
        low = min(resources["memory_bytes"], again["memory_bytes"]) * 0.9
        high = max(resources["memory_bytes"], again["memory_bytes"]) * 1.1
        print(f"blue memory: agent {again['memory_bytes']}, docker stats {their_memory:.0f}")
        assert low <= their_memory <= high, (resources, theirs)
        url = secret(world, "BLUE_HOST_DB_URL")
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        print(f"blue database: agent {again['db_size_bytes']}, pg_database_size {row[0]}")
        assert again["db_size_bytes"] == pytest.approx(row[0], rel=0.10)
        assert again["disk_free_bytes"] == pytest.approx((256 << 20) - row[0], rel=0.10)
        text = world.cli("status").stdout
        assert "blue: cpu " in text and "blue: db " in text and "M free" in text, text

        # The candidate's database may use 1 MiB: full before it starts.
        stop_agent(world)
        toml = world.config.read_text()
        head, _, tail = toml.rpartition(PROFILE_BUDGET)  # the last one is [slots.green]'s
        toml = f"{head}disk_budget_bytes = {SMALL_BUDGET}{tail}"
        # The alarm is sent once it has held its window: 5 s here rather than the 2 min default.
        toml = toml.replace("[notify]\n", "[notify]\nalarm_after_seconds = 5\n", 1)
        # ... and the candidate is capped ([image] cpus / memory → nano_cpus / mem_limit).
        world.config.write_text(
            toml.replace("[image]\n", '[image]\ncpus = 0.5\nmemory = "256m"\n', 1)
        )
        deployed = world.cli("deploy", "v2", "--switch", "never")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

        def blocked(status: dict[str, Any]) -> bool:
            green = status["slots"]["green"]
            conditions = {c["name"]: c for c in green["conditions"]}
            disk = conditions.get("free_disk_after_catchup")
            others = [c for name, c in conditions.items() if name != "free_disk_after_catchup"]
            return (
                green["resources"]["fills_before_caught_up"] is True
                and disk is not None
                and not disk["met"]
                and bool(others)
                and all(c["met"] for c in others)  # caught up: only the disk holds it back
            )

        green_container = config.slot("green").container
        limits = docker.from_env().api.inspect_container(green_container)["HostConfig"]
        assert (limits["NanoCpus"], limits["Memory"]) == (500_000_000, 256 << 20), limits
        status = wait_status(world, blocked, 120, "green caught up but held by its disk")
        green = status["slots"]["green"]
        print(f"green: {green['state']}, {green['resources']}")
        assert green["state"] != "ready" and green["ready"] is False
        assert green["resources"]["disk_free_bytes"] < 0
        assert any("fills" in w or "full" in w for w in green["resources"]["warnings"])
        text = world.cli("status").stdout
        assert "fills before caught up" in text, text
        assert "free_disk_after_catchup" in text, text
        deadline = time.monotonic() + 30  # the alarm waits out its 5 s window first
        while True:
            history = json.loads(world.cli("history", "--json").stdout)
            resources = [e for e in history["events"] if e["kind"] == "resources"]
            warned = [e for e in resources if e["color"] == "green" and e["level"] == "warning"]
            if warned or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert warned and "full" in warned[0]["text"] and "(for " in warned[0]["text"], resources
        # blue's ready at `sandbox up` left its peaks in the history
        blue_peaks = [d["resources"] for d in history["deployments"] if d["color"] == "blue"]
        assert blue_peaks and blue_peaks[0]["final_db_size_bytes"], history["deployments"]
        refused = world.cli("switch", "--yes")
        assert refused.returncode != 0, refused.stdout
        assert "free_disk_after_catchup" in refused.stdout + refused.stderr
    finally:
        tear_down(world.dir)
