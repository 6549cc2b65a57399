"""How each kind of hook runs: one small class per `kind` behind `HookKind`, in `KINDS`.

`host` runs its argv in a process group of its own, so a hook that forks is stopped whole at its
timeout (SIGTERM, then SIGKILL after a grace: one that ignores SIGTERM still ends). `container`
runs the colour's container spec once under its own name with the hook's command: the image, env,
network and limits the colour's container has, nothing published, removed afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from console.core import timeouts
from console.core.config.hooks import ContainerHook, Hook, HostHook, argv
from console.core.contracts.runtime import ContainerRuntimeError, ContainerSpec, Runtime
from console.core.installation import LABEL_COLOR, LABEL_SERVICE

LABEL_HOOK = "bluegreen.hook"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_READER_DRAIN_SECONDS = 2.0  # after the hook ends: how long its last output may take


class HookCannotRun(Exception):
    """The hook could not be started at all (no such program, the engine refused); a sentence."""


@dataclass(frozen=True)
class HookJob:
    """What a kind needs to run one hook: its environment (BLUEGREEN_* and the hook's own), where
    a host hook runs, and the colour's container as deploy starts it (the container kind's base)."""

    env: dict[str, str]
    workdir: str
    colour_spec: ContainerSpec | None
    runtime: Callable[[], Runtime]
    placeholders: dict[str, str]  # {dest_db_url} and the rest, for the container kind


@dataclass(frozen=True)
class Ended:
    exit_code: int | None  # None when killed at its timeout
    timed_out: bool


class HookKind(Protocol):
    def run(self, hook: Hook, job: HookJob, on_line: Callable[[bytes], None]) -> Ended:
        """Run `hook` to its end or its timeout, each output line (raw) to `on_line`;
        HookCannotRun when it cannot start."""
        ...


class HostKind:
    def run(self, hook: Hook, job: HookJob, on_line: Callable[[bytes], None]) -> Ended:
        cwd = hook.workdir if isinstance(hook, HostHook) and hook.workdir else job.workdir
        try:
            process = subprocess.Popen(
                argv(hook),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, **hook.env, **job.env},
                cwd=cwd or None,
                start_new_session=True,  # its own process group: stopped whole
            )
        except OSError as exc:
            raise HookCannotRun(f"{argv(hook)[0]}: {exc.strerror or exc}") from None
        reader = threading.Thread(
            target=_pump, args=(process, on_line), name=f"hook-{hook.name}", daemon=True
        )
        reader.start()
        try:
            code: int | None = process.wait(hook.timeout_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            _stop_group(process)
            code, timed_out = None, True
        # Whatever it left behind in its group (a `cmd &`) holds the pipe open: end it too.
        _signal_group(process.pid, signal.SIGKILL)
        reader.join(_READER_DRAIN_SECONDS)
        return Ended(code, timed_out)


class ContainerKind:
    def run(self, hook: Hook, job: HookJob, on_line: Callable[[bytes], None]) -> Ended:
        base = job.colour_spec
        if base is None:
            raise HookCannotRun("there is no colour's container to run it beside")
        fill = partial(_fill, job.placeholders)
        own = hook.entrypoint if isinstance(hook, ContainerHook) else []
        entrypoint: list[str] | None = [fill(part) for part in own] or None  # None: the image's
        command = [fill(part) for part in hook.command]
        if hook.shell:
            entrypoint, command = ["/bin/sh", "-c"], [fill(hook.shell)]
        spec = dataclasses.replace(
            base,
            name=f"{base.name}-hook-{hook.name}",
            entrypoint=entrypoint,
            command=command,
            env={**base.env, **{k: fill(v) for k, v in hook.env.items()}, **job.env},
            labels={**_kept_labels(base.labels), LABEL_HOOK: hook.name},
            host_port=0,  # nothing published: it is no colour
            restart_policy="no",
        )
        try:
            result = job.runtime().run_to_completion(spec, hook.timeout_seconds, on_line)
        except ContainerRuntimeError as exc:
            raise HookCannotRun(str(exc)) from None
        return Ended(result.exit_code, result.timed_out)


KINDS: dict[type, HookKind] = {HostHook: HostKind(), ContainerHook: ContainerKind()}


def _fill(values: dict[str, str], template: str) -> str:
    # Only the known names: a shell line's own braces (${VAR}, JSON) stay as written.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _kept_labels(labels: dict[str, str]) -> dict[str, str]:
    # The service and colour (teardown and `docker ps` find it), never the deployment's: a
    # one-off container is no deployment's container.
    return {k: v for k, v in labels.items() if k in (LABEL_SERVICE, LABEL_COLOR)}


def _pump(process: subprocess.Popen[bytes], on_line: Callable[[bytes], None]) -> None:
    assert process.stdout is not None
    with contextlib.suppress(OSError, ValueError):
        for line in process.stdout:
            on_line(line.rstrip(b"\n"))


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeouts.HOOK_KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
