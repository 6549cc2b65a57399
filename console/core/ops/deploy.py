"""Deploy: start a new version in the idle colour. Never touches the live colour.

The agent takes it from there (sampling, readiness, switch policy); `deploy` returns once the
container runs, so an operator's dropped SSH session cannot interrupt a catch-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from console.core.config.reset_guard import database_urls, shared_database_problem
from console.core.config.resources import memory_bytes, nano_cpus
from console.core.contracts.runtime import ContainerSpec, RegistryRefused, replicas_of
from console.core.installation import (
    LABEL_COLOR,
    LABEL_DEPLOYMENT,
    LABEL_SERVICE,
    LABEL_VERSION,
    Installation,
    image_version,
)
from console.core.model import (
    COLORS,
    Actor,
    Color,
    OperationEvent,
    Outcome,
    Phase,
    Progress,
    SwitchPolicy,
    other,
)
from console.core.ops.canary import end_canary_to
from console.core.ops.db_reset import ResetError, check_reset, reset_database
from console.core.ops.hook_stages import pre_deploy
from console.core.ops.operation import describe_failure, mutating
from console.core.ops.pull import arrival_text, refused_pull
from console.core.ops.reconcile import reconcile
from console.core.ops.sessions import sessions_refusal
from console.core.store.image_pull import record_image_arrival


def idle_color(inst: Installation) -> Color:
    live = inst.store.live()
    return other(live) if live else COLORS[0]


def _container_running(inst: Installation, container: str) -> bool:
    try:
        info = inst.runtime.inspect(container)
    except Exception:  # Docker errors surface in the steps that need it
        return False
    return info is not None and info.running


def template_values(inst: Installation, color: Color, version: str) -> dict[str, str]:
    """What `{name}` in the image's command and env (and a container hook's) stands for."""
    config = inst.config
    return {
        "source_db_url": config.source.db_url,
        "dest_db_url": config.slot(color).db_url,
        "port": str(config.image.container_port),
        "color": color,
        "version": version,
        "service": config.service,
    }


def render_command(
    inst: Installation, color: Color, version: str
) -> tuple[list[str], dict[str, str]]:
    """Fill the image's command and env templates for `color`."""
    config = inst.config
    values = template_values(inst, color, version)
    command = [part.format_map(values) for part in config.image.command]
    env = {k: v.format_map(values) for k, v in config.image.env.items()}
    env.update({k: v.format_map(values) for k, v in config.slot(color).env.items()})
    return command, env


def container_spec(
    inst: Installation,
    color: Color,
    ref: str,
    deployment_id: int,
    env: dict[str, str] | None = None,
) -> ContainerSpec:
    """The container `deploy` starts for `ref` in `color` (deployment `deployment_id`)."""
    version = image_version(ref)
    command, container_env = render_command(inst, color, version)
    container_env.update(env or {})
    slot = inst.config.slot(color)
    return ContainerSpec(
        name=slot.container,
        image=ref,
        command=command,
        env=container_env,
        labels={
            LABEL_SERVICE: inst.config.service,
            LABEL_COLOR: color,
            LABEL_DEPLOYMENT: str(deployment_id),
            LABEL_VERSION: version,
        },
        host_port=slot.host_port,
        container_port=inst.config.image.container_port,
        network=inst.config.image.network,
        restart_policy=inst.config.image.restart_policy,
        extra_hosts=inst.config.image.extra_hosts,
        ulimits=inst.config.runtime.ulimits,
        stop_timeout=inst.config.image.stop_timeout_seconds,
        nano_cpus=nano_cpus(inst.config.image.cpus),  # caps the candidate's re-index
        mem_limit=memory_bytes(inst.config.image.memory),
    )


def started_text(inst: Installation, name: str, port: int) -> str:
    """Where the new colour runs: one container on this host, or a scheduler's replicas."""
    try:
        replicas = replicas_of(inst.runtime, name)
    except Exception:  # the engine's errors surface in the agent's status
        replicas = None
    if replicas is None:
        return f"Container {name} running on 127.0.0.1:{port}."
    return (
        f"Service {name}: {replicas.desired} replicas scheduled, each on port {port} of its node "
        "(`status` shows them)."
    )


def reset_refusal(inst: Installation, color: Color) -> str | None:
    """Why `color`'s database must not be emptied now, or None: it is the live colour's, shares
    a database with the other colour or the source, or the user lacks a right to empty it."""
    if color == inst.store.live():
        return f"Refusing to empty {color}'s database: {color} is live."
    shared = shared_database_problem(color, database_urls(inst.config))
    if shared:
        return f"Refusing to empty {color}'s database: {shared}. Nothing was started."
    try:
        check_reset(inst.config.slot(color).sampling_db_url, color)
    except ResetError as exc:
        return str(exc)
    except Exception as exc:  # psycopg's OperationalError: unreachable, wrong password
        return f"Cannot reach {color}'s database to empty it ({describe_failure(exc)[:-1]})."
    return None


def parse_env_overrides(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not name.replace("_", "").isalnum() or name[0].isdigit():
            raise ValueError(f"'{pair}' is not an environment override: write NAME=VALUE.")
        env[name] = value
    return env


def deploy(
    inst: Installation,
    image: str,
    actor: Actor,
    env: dict[str, str] | None = None,
    policy: SwitchPolicy | None = None,
    read_only: bool = False,
    image_tar: str | None = None,
    action: str = "deploy",
) -> Iterator[OperationEvent]:
    """`action` names the operation to the lock and the freeze: a named rollback's deploy is
    "rollback to", which a freeze lets through (a way back always stays open)."""
    ref = inst.resolve_image(image)
    chosen_policy = policy or SwitchPolicy(inst.config.switch.policy)
    with mutating(inst, f"{action} {ref}", actor, read_only):
        # The store may lag the proxy after a crash: never pick the live colour as "idle".
        for drift in reconcile(inst, actor):
            yield Progress(
                f"Reconciled: {drift.what} — {drift.fixed}.",
                "info" if drift.adoption else "warning",
            )
        color = idle_color(inst)
        live = inst.store.live()
        slot = inst.config.slot(color)
        refusal = sessions_refusal(inst, color)  # [sessions]: its clients still use it
        if refusal:
            yield Outcome(False, refusal)
            return
        yield Progress(f"Deploying {ref} into {color} (live: {live or 'none'}).")
        replaces_previous = live is not None and inst.store.previous() == color
        if replaces_previous and _container_running(inst, slot.container):
            yield Progress(
                f"{color} was kept for rollback; it is replaced now, so rollback goes away "
                "until this deployment is live.",
                "warning",
            )
        try:
            # Present locally, else loaded from `image_tar` (air-gapped hosts), else pulled.
            arrival = inst.runtime.provide_image(ref, tar_path=image_tar)
        except RegistryRefused as exc:  # the operator must act: audited and notified
            yield Outcome(False, refused_pull(inst, exc, actor, color))
            return
        except Exception as exc:  # driver errors are sentences
            yield Outcome(False, describe_failure(exc))
            return
        yield Progress(arrival_text(ref, arrival))
        if inst.config.image.reset_database:
            # Before the colour's old container stops: a missing grant changes nothing.
            refusal = reset_refusal(inst, color)
            if refusal:
                inst.store.record_event("failure", refusal, "error", str(actor), color, None)
                yield Outcome(False, refusal)
                return
        stopped = yield from pre_deploy(inst, color, ref, env, actor)  # before any change
        if stopped:
            yield Outcome(False, stopped)
            return
        ended = yield from end_canary_to(inst, color, actor, f"{ref} replaces {color}'s container")
        if not ended:
            yield Outcome(False, f"Deploy refused: the canary to {color} could not be ended.")
            return
        version = image_version(ref)
        previous = inst.store.active_deployment(color)
        if previous is not None:
            inst.store.set_phase(previous.id, Phase.CANCELLED, f"replaced by {ref}")
            yield Progress(
                f"Cancelled the unfinished deployment #{previous.id} in {color}.", "warning"
            )
        record = inst.store.create_deployment(
            color, ref, version, chosen_policy, str(actor), env or {}, target_height=None
        )
        record_image_arrival(inst.store, record.id, arrival)
        if replaces_previous:
            # Rollback goes away now: the store must not name a colour whose new version has
            # never been live (set only once the image is here, so a failed pull changes nothing).
            inst.store.set_live(live, None)
        try:
            inst.runtime.stop(slot.container, timeout=inst.config.image.stop_timeout_seconds)
            inst.runtime.remove(slot.container)
            if inst.config.image.reset_database:
                refusal = reset_refusal(inst, color)  # again: the store may have moved since
                if refusal:
                    raise ResetError(refusal)
                emptied = reset_database(slot.sampling_db_url, color)
                inst.store.record_event("reset", emptied, "info", str(actor), color, record.id)
                yield Progress(emptied)
            inst.runtime.start(container_spec(inst, color, ref, record.id, env))
        except Exception as exc:
            reason = describe_failure(exc)
            inst.store.set_phase(record.id, Phase.FAILED, reason)
            inst.store.record_event(
                "failure",
                f"Deploy of {ref} into {color} failed: {reason}",
                "error",
                str(actor),
                color,
                record.id,
            )
            yield Outcome(False, f"Deploy of {ref} into {color} failed: {reason}")
            return
        inst.store.set_phase(record.id, Phase.STARTING)
        text = f"Deploy #{record.id}: {ref} started in {color} (switch policy: {chosen_policy})."
        inst.store.record_event("deploy", text, "info", str(actor), color, record.id)
        inst.notifier.send("deploy", f"{inst.config.service}: {text}")
        yield Progress(started_text(inst, slot.container, slot.host_port))
        yield Outcome(
            True, f"{color} is starting {ref}; the agent tracks its catch-up.", at=time.time()
        )
