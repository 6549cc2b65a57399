"""Running one stage's hooks: in the order configured, each recorded (store and audit log), its
output redacted into the state directory's `hooks.log`, a failure notified. A failing hook at a
pre-stage stops the stage (and its operation: the caller's choice); at a post-stage the others
still run.
"""

from __future__ import annotations

import collections
import contextlib
import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path

from console.core.config.hooks import PRE_STAGES, Hook, Stage, hooks_at
from console.core.contracts.runtime import ContainerSpec
from console.core.fsutil import open_private
from console.core.hooks.kinds import KINDS, Ended, HookCannotRun, HookJob
from console.core.hooks.outcome import LAST_LINES, HookRun, clip
from console.core.installation import Installation
from console.core.model import Actor, Color, EventLevel, OperationEvent, Progress
from console.core.redact import sanitize_log_line

LOG_FILE = "hooks.log"
_LOG_ROTATE_BYTES = 16 << 20  # then hooks.log becomes hooks.log.1 (one generation kept)


@dataclass(frozen=True)
class StageContext:
    """One stage of one operation: the colour it concerns and the version going there."""

    stage: Stage
    color: Color
    image: str
    version: str
    actor: Actor
    deployment_id: int | None
    colour_spec: ContainerSpec | None  # the colour's container as deploy starts it
    placeholders: dict[str, str] = field(default_factory=dict)  # as in [image] command


def stage_env(inst: Installation, context: StageContext, hook: Hook) -> dict[str, str]:
    """What every hook is told (its own `env` comes under these, which win)."""
    return {
        "BLUEGREEN_SERVICE": inst.config.service,
        "BLUEGREEN_COLOR": context.color,
        "BLUEGREEN_IMAGE": context.image,
        "BLUEGREEN_VERSION": context.version,
        "BLUEGREEN_ACTOR": str(context.actor),
        "BLUEGREEN_STAGE": context.stage,
        "BLUEGREEN_HOOK": hook.name,
        "BLUEGREEN_DEPLOYMENT": str(context.deployment_id or ""),
        "BLUEGREEN_PORT": str(inst.config.slot(context.color).host_port),  # on 127.0.0.1
    }


def run_stage(
    inst: Installation, context: StageContext
) -> Generator[OperationEvent, None, HookRun | None]:
    """Run the stage's hooks; the failed run that stops a pre-stage, else None."""
    for hook in hooks_at(inst.config.hooks, context.stage):
        yield Progress(
            f"Hook {hook.name} ({context.stage}, {hook.kind}) running "
            f"(timeout {hook.timeout_seconds:g} s)…"
        )
        run = run_hook(inst, hook, context)
        if run.ok:
            yield Progress(run.sentence(), "success")
            continue
        stops = context.stage in PRE_STAGES
        yield Progress(run.sentence(), "error" if stops else "warning")
        if stops:
            return run
    return None


def run_hook(inst: Installation, hook: Hook, context: StageContext) -> HookRun:
    store = inst.store
    run = store.start_hook_run(
        HookRun(
            stage=context.stage,
            name=hook.name,
            kind=hook.kind,
            color=context.color,
            deployment_id=context.deployment_id,
            actor=str(context.actor),
            started_at=time.time(),
            timeout_seconds=hook.timeout_seconds,
        )
    )
    last: collections.deque[str] = collections.deque(maxlen=LAST_LINES)
    prefix = f"{inst.config.service} {context.stage} {hook.name}:"
    with HookLog(Path(inst.config.state_dir)) as log:

        def on_line(raw: bytes) -> None:
            text = sanitize_log_line(raw, inst.redactor)
            last.append(clip(text))
            log.write(f"{prefix} {text}")

        job = HookJob(
            env=stage_env(inst, context, hook),
            workdir=inst.config.state_dir,
            colour_spec=context.colour_spec,
            runtime=lambda: inst.runtime,
            placeholders=context.placeholders,
        )
        began = time.monotonic()
        error = None
        try:
            ended = KINDS[type(hook)].run(hook, job, on_line)
        except HookCannotRun as exc:
            ended, error = Ended(None, False), inst.redactor.redact(str(exc))
        except Exception as exc:  # an engine's surprise must not hide the operation's outcome
            ended, error = Ended(None, False), inst.redactor.redact(str(exc) or repr(exc))
        finished = replace(
            run,
            seconds=time.monotonic() - began,
            exit_code=ended.exit_code,
            timed_out=ended.timed_out,
            error=error,
            last_lines=tuple(last),
        )
        log.write(f"{prefix} — {finished.what_happened()}")
    store.finish_hook_run(finished)
    level: EventLevel = "error" if context.stage in PRE_STAGES else "warning"
    store.record_event(
        "hook",
        finished.sentence(),
        "success" if finished.ok else level,
        str(context.actor),
        context.color,
        context.deployment_id,
    )
    if not finished.ok:
        # kind "failure": never rate-limited away (a second hook failing a minute later counts)
        inst.notifier.send("failure", f"{inst.config.service}: {finished.sentence()}", "error")
    return finished


class HookLog:
    """`hooks.log` in the state directory: every hook's output, redacted, one line each with the
    time, service, stage and hook. A log that cannot be written never fails the hook."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOG_FILE
        self.fd: int | None = None

    def __enter__(self) -> HookLog:
        try:
            if self.path.exists() and self.path.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.path, self.path.with_name(LOG_FILE + ".1"))
            self.fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError:
            self.fd = None
        return self

    def write(self, line: str) -> None:
        if self.fd is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
        with contextlib.suppress(OSError):
            os.write(self.fd, f"{stamp} {line}\n".encode())

    def __exit__(self, *_exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
