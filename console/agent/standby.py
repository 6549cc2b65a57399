"""Which agent acts: the lease, and — with a shared store — standing by until it is free.

With SQLite in the state directory the lease is a flock: one agent per host, and a second one
exits. With a shared store (`[store] url`) agents on several hosts may run for one service: one
holds the lease and acts, the others wait here and take over when its holder stops, dies or is
cut off. The holder confirms the lease every tick and before every change to the proxy or the
runtime (`Installation.fence_with`), so an agent that lost it changes nothing more.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from console.core.actor import AGENT_ACTOR
from console.core.fsutil import StateDirError
from console.core.installation import Installation
from console.core.model import AgentInfo
from console.core.ops.reconcile import reconcile

STANDBY_POLL_SECONDS = 0.2  # one cheap query; a takeover within a fifth of a second


def leader(info: AgentInfo) -> str:
    where = f" on {info.host}" if info.host else ""
    since = time.strftime("%H:%M:%S", time.localtime(info.since)) if info.since else "?"
    return f"the agent{where} (pid {info.pid}) leads since {since}"


def lead(inst: Installation, log: Callable[[str], None], stopping: threading.Event) -> bool:
    """Hold the installation's lease: True once held; False when another agent holds it on a
    local store (said in the log), or when `stopping` is set while standing by."""
    lease = inst.agent_lease
    waited = unreachable = False
    while not stopping.is_set():
        try:
            if lease.try_acquire():  # idempotent for the lease's holder
                break
            info = lease.info()
        except StateDirError as exc:  # the shared store is down: wait for it, never exit
            if not inst.config.store.shared:
                raise
            if not unreachable:
                log(f"Standing by until the store answers: {exc}")
            waited = unreachable = True
            stopping.wait(STANDBY_POLL_SECONDS)
            continue
        unreachable = False
        if not inst.config.store.shared:
            log(
                f"another agent (pid {info.pid}) already watches {inst.state_dir}; "
                "this one does not."
            )
            return False
        if not waited:
            log(f"Standing by: {leader(info)}; this one takes over when it stops.")
            waited = True
        stopping.wait(STANDBY_POLL_SECONDS)
    else:
        return False
    if inst.config.store.shared:
        inst.fence_with(lease.confirm)
    if waited:
        text = "This agent took over the lease and acts now."
        log(text)
        with contextlib.suppress(StateDirError):  # a store that flaps again: said in the log
            inst.store.record_event("agent", text, "warning", str(AGENT_ACTOR))
    return True


def still_leading(inst: Installation, log: Callable[[str], None]) -> bool:
    """Confirm the lease before a tick (a shared store); False once it is lost, said once."""
    if not inst.config.store.shared or inst.agent_lease.confirm():
        return True
    log("This agent lost its lease (the store did not confirm it): it stops acting, stands by.")
    return False


def keep_leading(
    inst: Installation,
    log: Callable[[str], None],
    stopping: threading.Event,
    took_over: Callable[[], object],
) -> bool:
    """Before each tick: True while this agent leads. One that lost its lease stands by until it
    leads again — then reconciles what the other agent changed and calls `took_over` — or until
    `stopping` is set (False)."""
    if still_leading(inst, log):
        return True
    if not lead(inst, log, stopping):
        return False
    # A store that just came back may fail this once (its pooled connections died with the
    # server): never the end of the agent; the next ticks reconcile what this skipped.
    try:
        reconcile_logged(inst, log)
    except Exception as exc:
        log(f"reconcile after taking the lease failed: {inst.redactor.redact(repr(exc))}")
    took_over()
    return True


def reconcile_logged(inst: Installation, log: Callable[[str], None]) -> None:
    """Bring the proxy and the store back in line with each other, each drift said in the log."""
    for drift in reconcile(inst, AGENT_ACTOR):
        log(f"drift: {drift.what} — {drift.fixed}")
