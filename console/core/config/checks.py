"""The checks a parsed configuration must pass, each problem one phrase that names its key and
says what to do; `validate` joins them into one ConfigError. Also the exporter's HOST:PORT rule.

Each section module checks its own keys, given only the pieces it reads; the checks that span
sections (a parity check needs a candidate, the analysis a proxy that measures latency) live here,
so no section module imports the whole `Config`.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING

from console.core.config.analysis import analysis_problems
from console.core.config.coerce import ConfigError
from console.core.config.edge_checks import config_edge_problems
from console.core.config.hooks import hook_problems
from console.core.config.parity import parity_problems
from console.core.config.registry import registry_problems
from console.core.config.reset_guard import reset_guard_problems
from console.core.config.resources import disk_problems, resource_problems
from console.core.config.sessions import sessions_problems
from console.core.config.sources import url_template_problem
from console.core.config.store import store_problems
from console.core.config.swarm import swarm_problems
from console.core.config.swarm_edges import swarm_edge_problems
from console.core.model import COLORS

if TYPE_CHECKING:
    from console.core.config.schema import Config


def lag_keys_without_catchup(config: Config, readiness_raw: object) -> list[str]:
    """A lag rule in a config with no [candidate] would silently do nothing, and the colour would
    go live without the hold its author asked for: say so instead."""
    if config.catchup or not isinstance(readiness_raw, dict):
        return []
    given = [f"readiness.{key}" for key in ("max_lag", "hold_seconds") if key in readiness_raw]
    if not given:
        return []
    return [
        f"{' and '.join(given)} only apply to a service that re-indexes, and there is no "
        '[candidate]: add one (e.g. [candidate] kind = "sql" for the explorer\'s watermark) or '
        "remove them (readiness.min_ready_seconds holds a plain service)"
    ]


def config_analysis_problems(config: Config) -> list[str]:
    """`[analysis]` on its own (analysis.py), then what it asks of the proxy."""
    analysis = config.analysis
    problems = analysis_problems(analysis, config.switch.watch_seconds)
    if not analysis.enabled:
        return problems
    percentiles = config.proxy.measures_latency_percentiles
    if not percentiles and analysis.max_p99_ms + analysis.max_p99_ratio > 0:
        problems.append(
            "analysis.max_p99_ms and max_p99_ratio need latency percentiles, which "
            f"{config.proxy.title}'s stats do not give: set them to 0 and judge by "
            "analysis.max_error_rate"
        )
    return problems


def validate(config: Config, path: Path, problems: list[str] | None = None) -> None:
    problems = (problems or []) + _slot_problems(config) + _source_problems(config)
    readiness = config.readiness
    if readiness.log_pattern:
        try:
            re.compile(readiness.log_pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999} overflows
            problems.append(f"readiness.log_pattern is not a valid regular expression ({exc})")
    if readiness.max_lag < 0:
        problems.append("readiness.max_lag must be 0 or more")
    if readiness.sample_interval_seconds <= 0:
        problems.append("readiness.sample_interval_seconds must be above 0")
    if readiness.min_ready_seconds < 0:
        problems.append("readiness.min_ready_seconds must be 0 or more")
    if readiness.leave_after_seconds < 0:
        problems.append("readiness.leave_after_seconds must be 0 or more")
    for index, check in enumerate(readiness.checks):
        where = f"readiness.checks[{index}]"
        if not check.url:
            problems.append(f"{where}.url is empty: give the URL to check")
        else:
            problem = url_template_problem(check.url, f"{where}.url", per_colour=True)
            if problem:
                problems.append(problem)
        if not 100 <= check.expect_status <= 599:
            problems.append(f"{where}.expect_status must be an HTTP status, 100-599")
    if config.switch.drain_timeout_seconds < 0:
        problems.append("switch.drain_timeout_seconds must be 0 or more")
    if config.image.keep < 0:
        problems.append("image.keep must be 0 (keep every image) or more")
    if config.notify.alarm_after_seconds < 0:
        problems.append("notify.alarm_after_seconds must be 0 or more")
    if config.operators_group and config.watchers_group:
        problems.append(
            "operators_group and watchers_group are both set, but the state directory has one "
            "group: keep one (watchers who may also act belong in operators_group)"
        )
    if not config.image.command and not config.image.repository:
        problems.append("[image] needs at least a repository (so `deploy TAG` knows what to run)")
    problems += config.proxy.problems(config.admin_socket_path) + config_edge_problems(config)
    problems += registry_problems(config.registry, config.image.repository)
    problems += resource_problems(config.resources, config.image.cpus, config.image.memory)
    problems += store_problems(config.store, config.service)
    for color, slot in config.slots.items():
        problems += disk_problems(color, slot.disk_path, slot.disk_budget_bytes)
    problems += _parity_problems(config) + reset_guard_problems(config)
    problems += hook_problems(config.hooks)
    problems += swarm_problems(config.swarm, config.runtime.kind) + swarm_edge_problems(config)
    problems += sessions_problems(config.sessions, config.proxy.routes_sessions, config.proxy.title)
    host = config.runtime.docker_host
    if host and not host.startswith(("unix://", "tcp://", "ssh://", "http://", "https://")):
        problems.append(
            f"runtime.docker_host '{host}' is not an engine address: use unix:///PATH, "
            "tcp://HOST:PORT or ssh://USER@HOST"
        )
    for name, limits in config.runtime.ulimits.items():
        soft, _, hard = limits.partition(":")
        if not (soft.isdigit() and hard.isdigit() and int(soft) <= int(hard)):
            problems.append(f"runtime.ulimits.{name} must be 'SOFT:HARD' (numbers, soft ≤ hard)")
    if config.metrics.listen:
        problem = listen_problem(config.metrics.listen, config.metrics.allow_remote)
        if problem:
            problems.append(f"metrics.listen: {problem}")
    if problems:
        raise ConfigError(
            f"{path}: " + "; ".join(problems) + ". Fix these and run `bluegreen config check`."
        )


def _parity_problems(config: Config) -> list[str]:
    problems = parity_problems(config.parity, config.candidate)
    readiness = config.readiness
    if readiness.parity_required and not config.parity:
        problems.append("readiness.parity_required = true needs at least one [[parity]] check")
    if readiness.parity_margin < 0:
        problems.append("readiness.parity_margin must be 0 or more")
    if readiness.parity_interval_seconds <= 0:
        problems.append("readiness.parity_interval_seconds must be above 0")
    return problems


def _slot_problems(config: Config) -> list[str]:
    problems: list[str] = []
    missing = [c for c in COLORS if c not in config.slots]
    extra = [c for c in config.slots if c not in COLORS]
    if extra:
        problems.append(
            f"slots.{extra[0]} is not a colour: the slots are [slots.blue] and [slots.green]"
        )
    if missing:
        problems.append(
            f"[slots.{missing[0]}] is missing: define both [slots.blue] and [slots.green]"
        )
    if problems:
        return problems
    blue, green = config.slots["blue"], config.slots["green"]
    needs_db, why = _colour_database_use(config)
    for color, slot in config.slots.items():
        if not slot.container:
            problems.append(f"slots.{color}.container is empty: name the container")
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", slot.container):
            problems.append(
                f"slots.{color}.container '{slot.container}' is not a valid container name"
            )
        if not 1 <= slot.host_port <= 65535:
            problems.append(f"slots.{color}.host_port must be 1-65535")
        if needs_db and not slot.db_url:
            problems.append(
                f"slots.{color}.db_url is empty ({why}): give this colour's database URL"
            )
    if blue.container == green.container and blue.container:
        problems.append("slots.blue.container and slots.green.container must differ")
    if blue.host_port == green.host_port:
        problems.append("slots.blue.host_port and slots.green.host_port must differ")
    return problems


def _colour_database_use(config: Config) -> tuple[bool, str]:
    """Whether something uses each colour's database, and what (database URLs are only required
    where used: a plain web service has none)."""
    candidate = config.candidate
    if candidate.queries_database and not candidate.address():
        return True, "the [candidate] query runs on it"
    if config.image.reset_database:
        return True, "image.reset_database empties it"
    if any("{dest_db_url}" in part for part in config.image.command) or any(
        "{dest_db_url}" in value for value in config.image.env.values()
    ):
        return True, "image.command or image.env passes {dest_db_url}"
    return False, ""


def _source_problems(config: Config) -> list[str]:
    problems: list[str] = []
    head = config.effective_head
    if head is not None:
        problems += head.problems("head", per_colour=False)
    problems += config.candidate.problems("candidate", per_colour=True)
    uses_source_db = head is not None and head.queries_database and not head.address()
    passes_source_db = any("{source_db_url}" in part for part in config.image.command) or any(
        "{source_db_url}" in value for value in config.image.env.values()
    )
    if (uses_source_db or passes_source_db) and not config.source.db_url:
        why = "the [head] query runs on it" if uses_source_db else "image.command passes it"
        problems.append(f"source.db_url is empty ({why}): give the chain's event database URL")
    if config.catchup and head is None and not config.candidate.reports_head():
        problems.append(
            f'[candidate] kind = "{config.candidate.kind}" needs a chain head to compare with: '
            "add a [head] source, or a head_field/head_metric the candidate reports"
        )
    if config.head is not None and not config.catchup:
        problems.append(
            "[head] is set but there is no [candidate] to compare it with: add a [candidate] "
            "source, or remove [head] for a service that does not re-index"
        )
    return problems


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT ("127.0.0.1:9464", "[::1]:9464", ":9464" = loopback) → (host, port);
    ValueError otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"'{text}' is not HOST:PORT (e.g. 127.0.0.1:9464)")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text)


def listen_problem(text: str, allow_remote: bool) -> str | None:
    """Why `text` cannot be listened on, or None. Non-loopback needs `allow_remote`."""
    try:
        host, _ = parse_listen(text)
    except ValueError as exc:
        return str(exc)
    if allow_remote or host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return f"'{host}' is not an IP address: give a loopback address such as 127.0.0.1"
    if not loopback:
        return (
            f"{host} is not a loopback address; the exporter has no authentication, so it "
            "listens on loopback only unless metrics.allow_remote = true"
        )
    return None
