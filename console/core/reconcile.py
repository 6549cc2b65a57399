"""Reconcile: compare what the console decided (the store) with what is (the proxy, Docker).

The running proxy is the truth for the live colour — it is what clients see. The persisted proxy
file must agree with it so a proxy restart keeps it. Deployments interrupted mid-operation are
settled from the containers. Every difference found is recorded as a `drift` event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.core.installation import Installation
from console.core.model import COLORS, Actor, Color, Phase, other
from console.core.proxy_types import changed_outside_text

if TYPE_CHECKING:
    from console.drivers.docker_model import ContainerInfo

_TERMINAL_CONTAINER_STATES = {"exited", "dead"}


@dataclass(frozen=True, slots=True)
class Drift:
    what: str
    fixed: str
    # A first install: nothing was ever live, and the proxy's default colour now has a container.
    # Adopting it is expected, not a fault: recorded as information, not as a `drift` warning.
    first_live: bool = False


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
        if drift.first_live:
            self._inst.store.record_event("live", text, "info", str(self._actor))
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
        running = inst.proxy.current()
        persisted = inst.proxy.persisted()
    except Exception as exc:  # an unreachable proxy is reported by `check`, not fixed here
        drifts.add(Drift(f"Could not read the proxy ({exc})", "left unchanged"))
        return
    truth: Color | None = running or persisted or stored
    if truth is None:
        return
    if stored is None and not _container_running(docker, truth):
        return  # the proxy's default colour, with nothing behind it: nothing is live yet
    if stored != truth:
        previous = inst.store.previous()
        first_live = stored is None and previous is None
        if stored is not None:
            previous = stored
        elif previous is None:
            previous = other(truth)
        inst.store.set_live(truth, previous)
        if first_live:
            drifts.add(
                Drift(
                    f"Nothing was live yet; the proxy routes to {truth}, where a container runs",
                    f"{truth} is live",
                    first_live=True,
                )
            )
        else:
            drifts.add(
                Drift(
                    changed_outside_text(stored, truth, time.time())
                    if changed_outside
                    else f"The store said live={stored or 'none'}, the proxy routes to {truth}",
                    f"store updated to {truth}",
                )
            )
    if persisted != truth:
        try:
            inst.proxy.install(truth)
            fixed = f"file rewritten for {truth}"
        except Exception as exc:  # the store is already right: record that, and why not the file
            fixed = f"file NOT rewritten ({exc})"
        drifts.add(
            Drift(f"The proxy file said {persisted or 'nothing'}, traffic goes to {truth}", fixed)
        )


def _container_running(docker: _Docker, color: Color) -> bool:
    _, info = docker.inspect(color)
    return info is not None and info.running


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
