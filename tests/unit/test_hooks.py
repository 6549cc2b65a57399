"""[[hooks]]: the configuration's sentences, the host kind on real processes (argv, environment,
exit, a hang killed at its timeout even when it ignores SIGTERM), and a stage's run recorded in a
real store and audit log, with a failure notified. The container kind runs on real Docker in
tests/integration/test_hooks.py."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from console.agent.release_hooks import PostReadyHooks, off_the_tick
from console.core import timeouts
from console.core.config.coerce import ConfigError
from console.core.config.hooks import ContainerHook, HostHook
from console.core.config.load import parse_config
from console.core.contracts.runtime import ContainerSpec, OneOffResult, Runtime, RuntimeUnavailable
from console.core.hooks.kinds import LABEL_HOOK, ContainerKind, Ended, HookJob, HostKind
from console.core.hooks.outcome import HookRun
from console.core.hooks.run import LOG_FILE, StageContext, run_stage
from console.core.installation import (
    LABEL_COLOR,
    LABEL_DEPLOYMENT,
    LABEL_SERVICE,
    Drivers,
    Installation,
)
from console.core.model import (
    Actor,
    Deployment,
    OperationEvent,
    Outcome,
    Phase,
    Progress,
    SwitchPolicy,
)
from console.core.store.db import Database
from console.core.store.schema import MIGRATIONS
from console.core.store.store import Store

BASE = """
service = "hooked"
state_dir = "{state}"
secrets_file = "{secrets}"
[image]
repository = "webapp"
[slots.blue]
container = "h-blue"
host_port = 18183
[slots.green]
container = "h-green"
host_port = 18184
[candidate]
kind = "none"
"""


def config_text(tmp_path: Path, hooks: str) -> str:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("API_KEY=s3cr3t-value-42\n")
    return BASE.format(state=tmp_path / "state", secrets=secrets) + hooks


def error_of(tmp_path: Path, hooks: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(tmp_path, hooks))
    return str(caught.value)


def test_hooks_parse_by_kind_in_order(tmp_path: Path) -> None:
    config = parse_config(
        config_text(
            tmp_path,
            """
[[hooks]]
name = "migrate"
stage = "pre-switch"
kind = "container"
command = ["./migrate", "--up"]
timeout_seconds = 60
[[hooks]]
name = "warm"
stage = "post-ready"
shell = "curl -s http://127.0.0.1:$BLUEGREEN_PORT/ | head -c 10"
""",
        )
    )
    first, second = config.hooks
    assert isinstance(first, ContainerHook) and first.command == ["./migrate", "--up"]
    assert first.timeout_seconds == 60.0
    assert isinstance(second, HostHook) and second.stage == "post-ready" and second.shell


@pytest.mark.parametrize(
    ("hooks", "said"),
    [
        ('[[hooks]]\nname = "m"\ncommand = "./migrate --up"', "hooks[0].command must be a list"),
        (
            '[[hooks]]\nname = "m"\nstage = "pre-swich"\ncommand = ["x"]',
            "Did you mean 'pre-switch'",
        ),
        ('[[hooks]]\nname = "m"', "hooks[0] needs exactly one of command"),
        ('[[hooks]]\nname = "m"\ncommand = ["x"]\nshell = "x"', "exactly one of command"),
        ('[[hooks]]\ncommand = ["x"]', "hooks[0].name must name the hook"),
        ('[[hooks]]\nname = "m"\ncommand = ["x"]\ntimeout_seconds = 0', "timeout_seconds must be"),
        (
            '[[hooks]]\nname = "m"\nkind = "container"\ncommand = ["x"]\nworkdir = "/srv"',
            "hooks[0].workdir belongs to kind = 'host'",
        ),
        (
            '[[hooks]]\nname = "m"\ncommand = ["x"]\n[[hooks]]\nname = "m"\ncommand = ["y"]',
            "is already hooks[0]'s at pre-deploy",
        ),
        (
            '[[hooks]]\nname = "m"\ncommand = ["x"]\nenv = {BLUEGREEN_COLOR = "x"}',
            "set by bluegreen",
        ),
    ],
)
def test_a_wrong_hook_is_one_sentence_naming_its_key(tmp_path: Path, hooks: str, said: str) -> None:
    assert said in error_of(tmp_path, hooks)


def run_host(hook: HostHook, env: dict[str, str] | None = None) -> tuple[list[str], object]:
    lines: list[str] = []
    job = HookJob(env or {}, "/tmp", None, _no_runtime, {})
    ended = HostKind().run(hook, job, lambda raw: lines.append(raw.decode()))
    return lines, ended


def _no_runtime() -> Runtime:
    raise RuntimeUnavailable("no engine in a unit test")


def test_a_host_hook_runs_its_argv_with_the_environment_and_reports_its_exit() -> None:
    hook = HostHook(
        name="t",
        command=[
            sys.executable,
            "-c",
            "import os,sys; print(os.environ['BLUEGREEN_COLOR']);"
            " print('bye', file=sys.stderr); sys.exit(3)",
        ],
    )
    lines, ended = run_host(hook, {"BLUEGREEN_COLOR": "green"})
    assert lines == ["green", "bye"]
    assert ended == type(ended)(3, False)


def test_a_hook_that_ignores_sigterm_is_killed_at_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(timeouts, "HOOK_KILL_GRACE_SECONDS", 0.5)
    hook = HostHook(
        name="hang",
        shell="trap '' TERM; echo started; sleep 60 & wait; sleep 60",
        timeout_seconds=0.5,
    )
    began = time.monotonic()
    lines, ended = run_host(hook)
    assert ended == type(ended)(None, True)
    assert lines == ["started"]
    assert time.monotonic() - began < 30  # a guard against a hang: it never waits out its sleep


def installation(tmp_path: Path, hooks: str) -> tuple[Installation, list[str]]:
    sent: list[str] = []

    class Notifier:
        def send(self, kind: str, text: str, level: str = "info") -> None:
            sent.append(f"{kind}/{level}: {text}")

        def close(self, timeout: float = 5.0) -> bool:
            return True

    drivers = Drivers(
        runtime=lambda config, redactor: _no_runtime(),
        proxy=lambda config: None,  # type: ignore[arg-type, return-value]
        notifier=lambda config, redactor: Notifier(),
        parity=lambda config, redactor: None,
    )
    return Installation(parse_config(config_text(tmp_path, hooks)), drivers), sent


def context(stage: str) -> StageContext:
    return StageContext(stage, "green", "webapp:v2", "v2", Actor("ops"), 7, None)  # type: ignore[arg-type]


TWO_PRE_SWITCH = r'''
[[hooks]]
name = "first"
stage = "pre-switch"
shell = """
echo migrating $BLUEGREEN_SERVICE $BLUEGREEN_COLOR $BLUEGREEN_IMAGE $BLUEGREEN_VERSION
echo token=$TOKEN
echo actor=$BLUEGREEN_ACTOR stage=$BLUEGREEN_STAGE
exit 4"""
env = {TOKEN = "${API_KEY}"}
[[hooks]]
name = "second"
stage = "pre-switch"
command = ["true"]
'''


def test_a_failing_pre_hook_stops_its_stage_recorded_redacted_and_notified(
    tmp_path: Path,
) -> None:
    inst, sent = installation(tmp_path, TWO_PRE_SWITCH)
    try:
        events = []
        stage = run_stage(inst, context("pre-switch"))
        while True:
            try:
                events.append(next(stage))
            except StopIteration as stop:
                failed = stop.value
                break
        assert failed is not None and failed.name == "first" and failed.exit_code == 4
        assert failed.last_lines[0] == "migrating hooked green webapp:v2 v2"
        assert "token=***" in failed.last_lines  # the secret is never stored
        assert "actor=ops stage=pre-switch" in failed.last_lines
        text = failed.sentence()
        assert text.startswith("Hook first (pre-switch, host) failed with exit 4 after ")
        assert "Its last lines: migrating hooked green webapp:v2 v2 | token=***" in text
        runs = inst.store.hook_runs()
        assert [run.name for run in runs] == ["first"]  # the second never ran
        assert runs[0].deployment_id == 7 and runs[0].seconds is not None
        (event,) = [e for e in inst.store.events() if e.kind == "hook"]
        assert event.level == "error" and event.actor == "ops" and event.text == text
        assert sent == [f"failure/error: hooked: {text}"]
        log = (tmp_path / "state" / LOG_FILE).read_text()
        assert "hooked pre-switch first: token=***" in log and "s3cr3t" not in log
        assert isinstance(events[-1], Progress) and events[-1].level == "error"
    finally:
        inst.close()


def test_a_failing_post_hook_lets_the_next_run_and_stops_nothing(tmp_path: Path) -> None:
    hooks = TWO_PRE_SWITCH.replace('"pre-switch"', '"post-switch"')
    inst, sent = installation(tmp_path, hooks)
    try:
        assert list(run_stage(inst, context("post-switch")))
        failed_run, ok_run = sorted(inst.store.hook_runs(), key=lambda run: run.id)
        assert not failed_run.ok and ok_run.ok and ok_run.exit_code == 0
        levels = [e.level for e in inst.store.events() if e.kind == "hook"]
        assert levels == ["warning", "success"]
        assert len(sent) == 1
    finally:
        inst.close()


def test_a_program_that_does_not_exist_is_a_sentence(tmp_path: Path) -> None:
    hooks = '[[hooks]]\nname = "ghost"\ncommand = ["/nonexistent/migrate"]\n'
    inst, _sent = installation(tmp_path, hooks)
    try:
        stage = run_stage(inst, context("pre-deploy"))
        events = list(stage)
        assert events[-1].text.startswith(  # type: ignore[union-attr]
            "Hook ghost (pre-deploy, host) could not run: /nonexistent/migrate: No such file"
        )
    finally:
        inst.close()


def deployment(deployment_id: int) -> Deployment:
    return Deployment(
        deployment_id, "green", "w:v2", "v2", SwitchPolicy.AUTO, Phase.READY, "ops", 0.0, {}
    )


def test_post_ready_hooks_run_once_per_deployment_and_not_again_after_a_restart() -> None:
    ran: list[int] = []
    hooks = PostReadyHooks(True, lambda d: ran.append(d.id), lambda _id: False, print)
    assert not hooks.finished(1)  # not begun: the policy's switch waits
    for _ in range(3):  # every tick while ready
        hooks.begin(deployment(1))
    deadline = time.monotonic() + 10
    while not hooks.finished(1) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == [1] and hooks.finished(1)
    restarted = PostReadyHooks(True, lambda d: ran.append(d.id), lambda _id: True, print)
    restarted.begin(deployment(1))
    assert ran == [1] and restarted.finished(1)  # the store says it ran: never again
    assert PostReadyHooks(False, lambda d: ran.append(d.id), bool, print).finished(2)


class CapturingRuntime:
    """Records the one-off spec it is asked to run (the real engine: the integration test)."""

    def __init__(self) -> None:
        self.specs: list[ContainerSpec] = []

    def run_to_completion(
        self, spec: ContainerSpec, timeout: float, on_line: Callable[[bytes], None]
    ) -> OneOffResult:
        self.specs.append(spec)
        on_line(b"migrated")
        return OneOffResult(exit_code=0, timed_out=False)


def test_a_container_hook_is_the_colours_container_under_its_own_name() -> None:
    colour = ContainerSpec(
        name="h-green",
        image="explorer:v2",
        command=["-d", "postgres://green"],
        env={"PORT": "8080", "MODE": "fast"},
        labels={LABEL_SERVICE: "hooked", LABEL_COLOR: "green", LABEL_DEPLOYMENT: "7"},
        host_port=18184,
        container_port=8080,
        network="backend",
        extra_hosts={"db": "host-gateway"},
    )
    runtime = CapturingRuntime()
    hook = ContainerHook(
        name="migrate",
        entrypoint=["python3", "-c"],
        command=["run({dest_db_url})", "${{not_ours}}", "{unknown}"],
        env={"MODE": "migrate", "TARGET": "{color}"},
    )
    job = HookJob(
        {"BLUEGREEN_COLOR": "green"},
        "/tmp",
        colour,
        lambda: runtime,  # type: ignore[arg-type, return-value]
        {"dest_db_url": "postgres://green", "color": "green"},
    )
    lines: list[bytes] = []
    ended = ContainerKind().run(hook, job, lines.append)
    assert ended == Ended(0, False) and lines == [b"migrated"]
    (spec,) = runtime.specs
    assert spec.name == "h-green-hook-migrate" and spec.image == "explorer:v2"
    assert spec.entrypoint == ["python3", "-c"]
    assert spec.command == ["run(postgres://green)", "${{not_ours}}", "{unknown}"]
    assert spec.env == {
        "PORT": "8080",
        "MODE": "migrate",
        "TARGET": "green",
        "BLUEGREEN_COLOR": "green",
    }
    assert spec.host_port == 0 and spec.restart_policy == "no"  # no colour: nothing published
    assert spec.network == "backend" and spec.extra_hosts == {"db": "host-gateway"}
    assert spec.labels == {LABEL_SERVICE: "hooked", LABEL_COLOR: "green", LABEL_HOOK: "migrate"}
    shell = ContainerKind().run(ContainerHook(name="s", shell="echo {color}"), job, lines.append)
    assert shell == Ended(0, False)
    assert runtime.specs[-1].entrypoint == ["/bin/sh", "-c"]
    assert runtime.specs[-1].command == ["echo green"]


def test_a_store_of_the_previous_schema_gains_the_hook_runs(tmp_path: Path) -> None:
    path = tmp_path / "bluegreen.db"
    raw = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 1")
    raw.execute(
        "INSERT INTO deployments (color, image, version, policy, phase, actor, created_at)"
        " VALUES ('blue', 'w:v1', 'v1', 'confirm', 'live', 'ops', 0)"
    )
    raw.commit()
    raw.close()
    store = Store(Database(path))
    try:
        assert store.latest_deployment("blue") is not None
        assert not store.hook_started(1, "post-ready")
        run = store.start_hook_run(
            HookRun("post-ready", "warm", "host", "blue", 1, "agent", 1.0, timeout_seconds=9)
        )
        assert store.hook_started(1, "post-ready")
        assert store.hook_runs()[0].what_happened() == "did not finish (interrupted)"
        store.finish_hook_run(replace(run, seconds=0.5, exit_code=0, last_lines=("done",)))
        (finished,) = store.hook_runs(deployment_id=1)
        assert finished.ok and finished.last_lines == ("done",) and finished.timeout_seconds == 9
    finally:
        store.close()


def test_the_policy_switch_leaves_the_tick_only_when_a_switch_runs_hooks() -> None:
    started, release, logged = threading.Event(), threading.Event(), []

    def switch() -> Iterator[OperationEvent]:
        started.set()
        release.wait(10)
        yield Outcome(True, "switched")

    assert off_the_tick(switch, [], logged.append) is switch  # no switch hooks: as before
    hooked = off_the_tick(switch, [HostHook(name="m", stage="pre-switch")], logged.append)
    assert list(hooked()) == []  # returns at once: the tick goes on
    assert started.wait(10)
    assert list(hooked()) == []  # a second tick while it runs starts no second switch
    release.set()
    deadline = time.monotonic() + 10
    while not logged and time.monotonic() < deadline:
        time.sleep(0.01)
    assert logged == ["auto switch: switched"]
