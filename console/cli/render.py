"""Plain-text and JSON output for the CLI. No colour codes: output is often piped or logged."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from console.cli import render_edges as edges_cli
from console.cli import render_sessions as sessions_cli
from console.cli.render_holds import holds_json, holds_lines
from console.cli.render_hooks import hooks_json, print_hooks
from console.cli.render_replicas import colour_where, replica_lines
from console.cli.render_resources import (
    deployment_resources_json,
    resource_lines,
    resources_json,
)
from console.core.config.schema import Config
from console.core.contracts.runtime import ImageArrival
from console.core.durations import duration_text
from console.core.hooks.outcome import HookRun
from console.core.measures.parity import newest, report_json, report_lines
from console.core.measures.traffic import TrafficFigures, traffic_text
from console.core.model import (
    Condition,
    Deployment,
    EventRecord,
    OperationEvent,
    Outcome,
    PartReading,
    SlotStatus,
    Status,
    SwitchPlan,
)
from console.core.ops.pull import arrival_text
from console.core.replicas import replica_status_json
from console.core.store.image_pull import arrival_json
from console.core.store.resources import DeploymentResources

_MARK = {"info": "·", "warning": "!", "error": "✗", "success": "✓"}


def say(text: str, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps({"message": text}), flush=True)
    else:
        print(text, flush=True)


def error(text: str) -> None:
    print(f"bluegreen: {text}", file=sys.stderr, flush=True)


def print_event(event: OperationEvent, redact: Callable[[str], str]) -> None:
    if isinstance(event, Outcome):
        mark = "✓" if event.ok else "✗"
        stream = sys.stdout if event.ok else sys.stderr
        print(f"{mark} {redact(event.text)}", file=stream, flush=True)
    else:
        print(f"  {_MARK.get(event.level, '·')} {redact(event.text)}", flush=True)


def event_json(event: OperationEvent, redact: Callable[[str], str]) -> dict[str, Any]:
    if isinstance(event, Outcome):
        return {
            "event": "deploy",
            "outcome": "ok" if event.ok else "failed",
            "text": redact(event.text),
            "at": event.at,
            "cutover_ms": event.cutover_ms,
        }
    return {"event": "step", "progress": redact(event.text), "level": event.level, "at": event.at}


def slot_json(slot: SlotStatus, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "state": str(slot.state),
        "image": slot.image,
        "version": slot.version,
        "deployment_id": slot.deployment_id,
        "container_state": slot.container_state,
        "height": slot.height,
        "head": slot.head,
        "lag": slot.lag,
        "progress": slot.progress,
        "speed": slot.speed,
        "head_speed": slot.head_speed,
        "eta_seconds": slot.eta_seconds,
        "at_head": slot.at_head,
        "healthy": slot.healthy,
        "ready": slot.ready,
        "reason": slot.reason,
        "restart_count": slot.restart_count,
        "started_at": slot.started_at,
        "conditions": [{"name": c.name, "met": c.met, "detail": c.detail} for c in slot.conditions],
        "updated_at": slot.updated_at,
        "readings": [reading_json(r, now) for r in slot.readings],
        "traffic": traffic_json(slot.traffic),
        "resources": resources_json(slot.resources),
        "replicas": replica_status_json(slot.replicas),  # null unless a Swarm colour
    }


TRAFFIC_KEYS = (
    "rps", "error_rate", "p50_ms", "p99_ms", "open_connections", "websockets", "requests_total",
    "mean_ms", "note",  # HAProxy has a mean but no percentiles; note: what the proxy cannot say
)  # fmt: skip


def traffic_json(figures: TrafficFigures | None) -> dict[str, Any]:
    """The slot's traffic figures; every key null where the proxy cannot say."""
    if figures is None:
        return dict.fromkeys(TRAFFIC_KEYS)
    out: dict[str, Any] = {key: getattr(figures, key) for key in TRAFFIC_KEYS}
    for key in ("rps", "p50_ms", "p99_ms", "mean_ms"):
        if out[key] is not None:
            out[key] = round(out[key], 2)
    out["note"] = out["note"] or None
    if out["error_rate"] is not None:
        out["error_rate"] = round(out["error_rate"], 4)
    return out


def _parity_json(status: Status) -> dict[str, Any] | None:
    """The agent's latest parity report (both colours at a pinned height); None: not sampled."""
    report = newest([slot.parity for slot in status.slots.values()])
    return None if report is None else report_json(report)


def reading_json(reading: PartReading, now: float) -> dict[str, Any]:
    silent = reading.silent_for(now)
    return {
        "part": reading.part,
        "label": reading.label,
        "answered_at": reading.answered_at or None,
        "not_answering_seconds": None if silent is None else round(silent, 1),
        "stale": reading.stale(now),
        "error": reading.error,
    }


def status_json(status: Status) -> dict[str, Any]:
    lock = status.lock
    return {
        "service": status.service,
        "live": status.live,
        "previous": status.previous,
        "canary": None if status.canary is None else status.canary.as_dict(),
        "slots": {color: slot_json(slot, status.at) for color, slot in status.slots.items()},
        "proxy": None if status.proxy is None else reading_json(status.proxy, status.at),
        "parity": _parity_json(status),
        **holds_json(status.holds, status.at),  # "freeze", "maintenance"
        "sessions": sessions_cli.view_json(status.sessions),
        "edges": edges_cli.view_json(status.edges, status.at),
        "agent": {
            "running": status.agent.running,
            "pid": status.agent.pid,
            "host": status.agent.host or None,  # another host's agent leads (a shared store)
            "since": status.agent.since,
            "standbys": list(status.agent.standbys),
            "heartbeat": status.agent.heartbeat,
        },
        "lock": None
        if lock is None
        else {
            "user": lock.user,
            "action": lock.action,
            "since": lock.since,
            "pid": lock.pid,
            "ssh_client": lock.ssh_client,
        },
        "at": status.at,
    }


def _num(value: float | int | None, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}{suffix}"
    return f"{value:,}{suffix}"


def progress_line(slot: SlotStatus, catchup: bool = True) -> str:
    if not catchup:
        unmet = [c.name for c in slot.conditions if not c.met]
        waiting = f" · waiting for {', '.join(unmet)}" if unmet else ""
        return f"{slot.color}: {slot.state}{waiting}"
    pct = f"{slot.progress * 100:.0f}%" if slot.progress is not None else "—"
    return (
        f"{slot.color}: {slot.state} · height {_num(slot.height)} / {_num(slot.head)} "
        f"({pct}) · {_num(slot.speed, ' b/s')} · {eta_text(slot, 'ETA ')}"
    )


def eta_text(slot: SlotStatus, prefix: str = "") -> str:
    """A colour at the head has no ETA: it is caught up."""
    return "at head" if slot.at_head else prefix + duration_text(slot.eta_seconds)


def print_status(status: Status, catchup: bool = True) -> None:
    """The slots table; without catch-up (a service that does not re-index) there are no
    height, head, lag, speed or ETA columns, only state, version and health."""
    agent = f"running ({status.agent.pid_text()})" if status.agent.running else "NOT running"
    if status.agent.standbys:
        agent += f", standing by: {', '.join(status.agent.standbys)}"
    lock = status.lock.describe() if status.lock else "free"
    print(f"{status.service} — live: {status.live or 'none'} · agent: {agent} · lock: {lock}")
    for line in holds_lines(status.holds, status.at):
        print(line)
    if status.canary is not None:
        print(f"canary: {status.canary.describe()} (sticky per client)")
    for line in sessions_cli.status_lines(status.sessions, status.at):
        print(line)
    for line in edges_cli.status_lines(status.edges, status.at):
        print(line)
    catchup_columns = (
        f" {'HEIGHT':>10} {'HEAD':>10} {'LAG':>8} {'SPEED':>10} {'ETA':>7}" if catchup else ""
    )
    print(f"{'COLOUR':7} {'STATE':9} {'VERSION':10}{catchup_columns}  HEALTH")
    for slot in status.slots.values():
        health = {True: "ok", False: "failing", None: "—"}[slot.healthy]
        numbers = (
            f" {_num(slot.height):>10} {_num(slot.head):>10} {_num(slot.lag):>8} "
            f"{_num(slot.speed, '/s'):>10} {eta_text(slot):>7}"
            if catchup
            else ""
        )
        print(f"{slot.color:7} {slot.state!s:9} {(slot.version or '—')[:10]:10}{numbers}  {health}")
    if status.proxy is not None and status.proxy.stale(status.at):
        print(f"  proxy: {status.proxy.describe(status.at)}; the live colour is as last seen.")
    parity = newest([slot.parity for slot in status.slots.values()])
    for line in report_lines(parity, status.at) if parity is not None else []:
        print(f"  {line}")
    for slot in status.slots.values():
        if slot.traffic is not None:
            print(f"  {slot.color}: {traffic_text(slot.traffic)}")
        for line in resource_lines(slot.color, slot.resources):
            print(line)
        for line in replica_lines(slot.color, slot.replicas):
            print(line)
        if slot.reason:
            print(f"  {slot.color}: {slot.reason}")
        unmet = [c for c in slot.conditions if not c.met]
        if unmet and slot.state not in ("live", "empty"):
            print(f"  {slot.color} not ready: " + "; ".join(_condition(c) for c in unmet))


def _condition(condition: Condition) -> str:
    return f"{condition.name} ({condition.detail})" if condition.detail else condition.name


def print_conditions(conditions: Sequence[Condition]) -> None:
    for condition in conditions:
        print(f"  {'✓' if condition.met else '✗'} {_condition(condition)}")


def print_switch_parity(plan: SwitchPlan, configured: bool) -> None:
    """The agent's latest parity report, and that the switch samples it again."""
    if plan.parity is None:
        if configured:
            print("  Parity: not compared by the agent yet; it is compared at the switch.")
        return
    for line in report_lines(plan.parity, time.time()):
        print(f"  {line}")
    print("  (parity is compared again at the moment of the switch)")


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def history_json(
    events: list[EventRecord],
    deployments: list[Deployment],
    resources: dict[int, DeploymentResources] | None = None,
    pulls: dict[int, ImageArrival] | None = None,
    hooks: list[HookRun] | None = None,
) -> dict[str, Any]:
    resources, pulls = resources or {}, pulls or {}
    return {
        "hooks": hooks_json(hooks or []),
        "events": [
            {
                "id": e.id,
                "at": e.at,
                "kind": e.kind,
                "level": e.level,
                "text": e.text,
                "actor": e.actor,
                "color": e.color,
                "deployment_id": e.deployment_id,
            }
            for e in events
        ],
        "deployments": [
            {
                "id": d.id,
                "color": d.color,
                "image": d.image,
                "version": d.version,
                "policy": str(d.policy),
                "phase": str(d.phase),
                "actor": d.actor,
                "created_at": d.created_at,
                "phases": d.phases,
                "outcome": d.outcome,
                "cutover_ms": d.cutover_ms,
                "start_height": d.start_height,
                "target_height": d.target_height,
                "resources": deployment_resources_json(resources.get(d.id)),
                "pull": arrival_json(pulls.get(d.id)),
            }
            for d in deployments
        ],
    }


def print_history(
    events: list[EventRecord],
    deployments: list[Deployment],
    resources: dict[int, DeploymentResources] | None = None,
    pulls: dict[int, ImageArrival] | None = None,
    hooks: list[HookRun] | None = None,
) -> None:
    print_hooks(hooks or [])
    print("DEPLOYMENTS")
    for d in deployments:
        print(
            f"  #{d.id:<4} {_when(d.created_at)}  {d.color:5} {d.image:32} {d.phase!s:12} "
            f"by {d.actor}" + (f" — {d.outcome}" if d.outcome else "")
        )
        used = (resources or {}).get(d.id)
        if used is not None and used.summary():
            print(f"         {used.summary()}")
        arrival = (pulls or {}).get(d.id)
        if arrival is not None and arrival.how == "pulled":
            print(f"         {arrival_text(d.image, arrival)}")
    print("EVENTS")
    for e in events:
        print(f"  {_when(e.at)}  {e.kind:10} {e.text}  [{e.actor}]")


def config_summary(config: Config, path: Path) -> str:
    return (
        f"{path}: OK. Service '{config.service}'; "
        f"blue = {colour_where(config, 'blue')}, "
        f"green = {colour_where(config, 'green')}; {_shape(config)}; "
        f"proxy {config.proxy.describe()}; switch policy {config.switch.policy}; "
        f"state in {config.state_dir}; {len(config.secret_values)} secret(s) resolved."
    )


def _shape(config: Config) -> str:
    if not config.catchup:
        return "no catch-up (readiness by health and checks)"
    head = config.effective_head
    head_kind = head.kind if head is not None else "the candidate's own answer"
    return f"candidate height from {config.candidate.kind}, head from {head_kind}"
