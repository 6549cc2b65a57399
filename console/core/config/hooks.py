"""The `[[hooks]]` part of the configuration: commands run around a release (issue 26 point 2).

Each entry names its stage (`pre-deploy`, `post-ready`, `pre-switch`, `post-switch`,
`post-rollback`) and is a tagged union by `kind`, like the progress sources: `host` runs an argv on
this host, `container` runs a one-off container of the colour's image with the colour's
environment (a migration). The command is an argv list; a shell line only when asked for by name
(`shell = "…"`), so quoting never surprises anyone. Adding a kind is one dataclass here and one
class in console/core/hooks/kinds.py's table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Stage = Literal["pre-deploy", "post-ready", "pre-switch", "post-switch", "post-rollback"]
STAGES: tuple[Stage, ...] = (
    "pre-deploy",
    "post-ready",
    "pre-switch",
    "post-switch",
    "post-rollback",
)
# A failing hook at these stages stops the operation; at the others it is recorded and notified.
PRE_STAGES: frozenset[Stage] = frozenset({"pre-deploy", "pre-switch"})
DEFAULT_TIMEOUT_SECONDS = 300.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class HostHook:
    """An argv (or an explicit shell line) run on this host, in its own process group."""

    kind: Literal["host"] = "host"
    name: str = ""
    stage: Stage = "pre-deploy"
    command: list[str] = field(default_factory=list)
    shell: str = ""  # run by /bin/sh -c; only when the operator writes it so
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    workdir: str = ""  # "" = the state directory


@dataclass(frozen=True)
class ContainerHook:
    """A one-off container of the colour's image, with the colour's env and network, its own
    name, removed afterwards (a schema migration, a cache warm-up)."""

    kind: Literal["container"] = "container"
    name: str = ""
    stage: Stage = "pre-deploy"
    # The image's arguments (its CMD); {dest_db_url} {source_db_url} {port} {color} {version}
    # {service} as in [image] command, here and in env.
    command: list[str] = field(default_factory=list)
    shell: str = ""  # run by /bin/sh -c inside the image (which needs a shell)
    entrypoint: list[str] = field(default_factory=list)  # [] = the image's own
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


Hook = HostHook | ContainerHook


def argv(hook: Hook) -> list[str]:
    """What is executed: the argv, or the shell line under /bin/sh -c."""
    return ["/bin/sh", "-c", hook.shell] if hook.shell else list(hook.command)


def hooks_at(hooks: list[Hook], stage: Stage) -> list[Hook]:
    """The hooks of one stage, in the order the file lists them."""
    return [hook for hook in hooks if hook.stage == stage]


def switch_hooked(hooks: list[Hook]) -> bool:
    """Whether a switch runs hooks (so the agent runs its policy's switch off its tick)."""
    return any(hook.stage in ("pre-switch", "post-switch") for hook in hooks)


def hook_problems(hooks: list[Hook]) -> list[str]:
    """What the [[hooks]] entries lack, as phrases naming their keys."""
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, hook in enumerate(hooks):
        where = f"hooks[{index}]"
        if not _NAME.fullmatch(hook.name):
            problems.append(
                f"{where}.name must name the hook (letters, digits, '_', '.', '-'; up to 64), "
                'e.g. name = "migrate": it names the hook in history, events and notifications'
            )
        elif (hook.stage, hook.name) in seen:
            problems.append(
                f"{where}.name = {hook.name!r} is already hooks[{seen[(hook.stage, hook.name)]}]'s "
                f"at {hook.stage}: give each hook of a stage its own name"
            )
        else:
            seen[(hook.stage, hook.name)] = index
        if bool(hook.command) == bool(hook.shell):
            problems.append(
                f"{where} needs exactly one of command (an argv list, e.g. "
                '["./migrate", "--up"]) or shell (a line for /bin/sh -c)'
            )
        if hook.command and not hook.command[0]:
            problems.append(f"{where}.command[0] is empty: name the program to run")
        if not 0 < hook.timeout_seconds <= 24 * 3600:
            problems.append(
                f"{where}.timeout_seconds must be above 0 and at most a day (86400): a hook that "
                "hangs is killed then"
            )
        for name in hook.env:
            if not _ENV_NAME.fullmatch(name) or name.startswith("BLUEGREEN_"):
                problems.append(
                    f"{where}.env.{name} is not an environment name of its own (letters, digits, "
                    "'_'; BLUEGREEN_* are set by bluegreen)"
                )
    return problems
