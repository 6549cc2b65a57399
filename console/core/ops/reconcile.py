"""Reconcile: compare what the console decided (the store) with what is (the proxy, Docker).

The running proxy is the truth for the live colour — it is what clients see. The persisted proxy
file must agree with it so a proxy restart keeps it. Deployments interrupted mid-operation are
settled from the containers. Every difference found is recorded as a `drift` event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from console.core.contracts.proxy import changed_outside_text
from console.core.contracts.runtime import ContainerInfo
from console.core.installation import LABEL_DEPLOYMENT, Installation
from console.core.model import COLORS, Actor, Color, Phase
from console.core.ops.canary_reconcile import reconcile_canary

_TERMINAL_CONTAINER_STATES = {"exited", "dead"}


@dataclass(frozen=True, slots=True)
class Drift:
    what: str
    fixed: str
    # An existing install taken over (e.g. from the old scripts): the proxy already routes to a
    # running container that no bluegreen deployment on its way through the gate owns. Expected,
    # not a fault: recorded as an `adoption` event, not as a `drift` warning.
    adoption: bool = False


class Reconciled(list[Drift]):
    """The drifts found, plus why Docker could not be asked (then nothing that needs Docker was
    settled); a list, so callers that only iterate drifts need not know. Each drift is recorded
    as an event the moment it is fixed, before slower fixes (a proxy reload) run."""

    docker_problem: str | None = None

    def __init__(self, inst: Installation, actor: Actor) -> None:
        super().__init__()
        self._inst = inst
        self._actor = actor

    def add(self, drift: Drift) -> None:
        self.append(drift)
        text = f"{drift.what} — {drift.fixed}"
        if drift.adoption:
            self._inst.store.record_event("adoption", text, "info", str(self._actor))
        else:
            self._inst.store.record_event("drift", text, "warning", str(self._actor))


class _Docker:
    """Docker as one reconcile sees it: after one call fails (a hung engine costs its whole bound),
    the rest are not tried, so a reconcile costs at most one Docker bound."""

    def __init__(self, inst: Installation) -> None:
        self.inst = inst
        self.problem: str | None = None

    def inspect(self, color: Color) -> tuple[bool, ContainerInfo | None]:
        """(answered, info); info None = no such container."""
        if self.problem is not None:
            return False, None
        try:
            return True, self.inst.runtime.inspect(self.inst.config.slot(color).container)
        except Exception as exc:
            self.problem = str(exc)
            return False, None


def reconcile(inst: Installation, actor: Actor) -> Reconciled:
    """Bring the store and the persisted proxy file in line with the running world."""
    docker = _Docker(inst)
    drifts = Reconciled(inst, actor)
    _reconcile_live(inst, docker, drifts)
    _reconcile_deployments(inst, docker, drifts)
    drifts.docker_problem = docker.problem
    return drifts


def reconcile_live(inst: Installation, actor: Actor, changed_outside: bool = False) -> Reconciled:
    """Only the live colour and the persisted proxy file: the agent's per-tick check of what users
    get. `changed_outside`: no operation held the lock, so a moved colour is recorded as changed
    outside bluegreen, with the time."""
    docker = _Docker(inst)
    drifts = Reconciled(inst, actor)
    _reconcile_live(inst, docker, drifts, changed_outside)
    drifts.docker_problem = docker.problem
    return drifts


def _reconcile_live(
    inst: Installation, docker: _Docker, drifts: Reconciled, changed_outside: bool = False
) -> None:
    stored = inst.store.live()
    try:
        # One read-back for the colour and the canary: a silent proxy costs its bound once.
        # (Unanswered: no colour, so the file, then the store, decides — as `current()` did.)
        seen = inst.proxy.read_back()
        running = seen.color
        persisted = inst.proxy.persisted()
    except Exception as exc:  # an unreachable proxy is reported by `check`, not fixed here
        drifts.add(Drift(f"Could not read the proxy ({exc})", "left unchanged"))
        return
    truth: Color | None = running or persisted or stored
    if truth is None:
        return
    if stored is None:
        adopted = _adoption(inst, docker, truth)
        if adopted is None:
            return  # nothing is live yet: the first colour goes live through its gate
        drifts.add(adopted)
        # Nothing was live before it under bluegreen: there is no previous colour to roll back to.
        inst.store.set_live(truth, None)
    elif stored != truth:
        inst.store.set_live(truth, stored)
        drifts.add(
            Drift(
                changed_outside_text(stored, truth, time.time())
                if changed_outside
                else f"The store said live={stored}, the proxy routes to {truth}",
                f"store updated to {truth}",
            )
        )
    for what, fixed in reconcile_canary(inst, truth, seen, changed_outside):
        drifts.add(Drift(what, fixed))
    if persisted != truth:
        try:
            if running == truth:
                # The running proxy already routes there: only the files follow it. Installing
                # would route to `truth` again once its reload settles, undoing a move made
                # meanwhile — the next tick would then see no drift, and a lie would stand.
                inst.proxy.write_files(truth, inst.store.canary())
            else:
                inst.proxy.install(truth, inst.store.canary())
            fixed = f"file rewritten for {truth}"
        except Exception as exc:  # the store is already right: record that, and why not the file
            fixed = f"file NOT rewritten ({exc})"
        drifts.add(
            Drift(f"The proxy file said {persisted or 'nothing'}, traffic goes to {truth}", fixed)
        )


def _adoption(inst: Installation, docker: _Docker, color: Color) -> Drift | None:
    """Nothing is live in the store and the proxy names `color`: is `color` really serving?

    The proxy names a colour before anything was ever deployed (its default), so that alone
    proves nothing. A container bluegreen started for a deployment that has not been live yet is
    on its way through the readiness gate: the policy makes it live, never reconcile. A running
    container that no such deployment owns (started by the old scripts, or by an earlier state
    directory) is what users get today: it is adopted. A deployment caught mid-switch (the proxy
    was changed, then the process died) is settled as the switch it was."""
    _, info = docker.inspect(color)
    info = info if info is not None and info.running else None
    if info is None:
        return None
    owner = _label_int(info.labels.get(LABEL_DEPLOYMENT))
    deployment = inst.store.deployment(owner) if owner is not None else None
    if deployment is not None and deployment.color == color:
        if deployment.phase == Phase.SWITCHING or Phase.LIVE in deployment.phases:
            return Drift(
                f"The store said live=none, the proxy routes to {color} "
                f"(deployment #{deployment.id}, {deployment.phase})",
                f"store updated to {color}",
            )
        return None
    return Drift(
        f"Adopted {color} as live: the proxy already routes to its running container "
        f"({info.image}), which no bluegreen deployment started",
        f"{color} is live; {_gate_state(inst, color)}",
        adoption=True,
    )


def _gate_state(inst: Installation, color: Color) -> str:
    status = inst.store.slot_status(color)
    if status is None or not status.conditions:
        return "its readiness gate has not been evaluated yet (no agent status)"
    if status.ready:
        return "its readiness gate held at adoption"
    unmet = "; ".join(
        f"{c.name} ({c.detail})" if c.detail else c.name for c in status.conditions if not c.met
    )
    return f"its readiness gate did not hold at adoption: {unmet}"


def _label_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reconcile_deployments(inst: Installation, docker: _Docker, drifts: Reconciled) -> None:
    live = inst.store.live()
    for color in COLORS:
        deployment = inst.store.active_deployment(color)
        if deployment is None:
            continue
        if deployment.phase == Phase.SWITCHING:
            settled = Phase.LIVE if live == color else Phase.READY
            inst.store.set_phase(deployment.id, settled)
            drifts.add(
                Drift(
                    f"Deployment #{deployment.id} was interrupted while switching",
                    f"settled as {settled} (the proxy routes to {live})",
                )
            )
            continue
        answered, info = docker.inspect(color)
        if not answered:
            continue  # Docker down or hung: the agent reports it; nothing to settle safely now
        if info is None:
            inst.store.set_phase(deployment.id, Phase.FAILED, "its container disappeared")
            drifts.add(
                Drift(
                    f"Deployment #{deployment.id}'s container in {color} is gone", "marked failed"
                )
            )
        elif info.state in _TERMINAL_CONTAINER_STATES and live != color:
            reason = f"container {info.state} (exit code {info.exit_code})"
            inst.store.set_phase(deployment.id, Phase.FAILED, reason)
            drifts.add(Drift(f"Deployment #{deployment.id} in {color}: {reason}", "marked failed"))
