"""The agent's part of [[hooks]] (console/core/hooks/).

Post-ready: each deployment's hooks once, when its colour first becomes ready, on a thread of
their own so the tick (and every colour's status) goes on while a warm-up runs. Once is persisted:
a run the store already holds (an earlier agent's, even one cut short by a restart) is never
started again. The switch policy waits until they have ended.

The policy's switch, off the tick when switch hooks are configured: a pre-switch migration may run
for minutes, and the tick must go on publishing meanwhile (as it does while an operator's `switch`
runs in another process). One switch at a time; without switch hooks it stays on the tick."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from console.core.config.hooks import Hook, hooks_at, switch_hooked
from console.core.installation import Installation
from console.core.lock import LockHeld
from console.core.model import Actor, Deployment, OperationEvent, Outcome
from console.core.ops.hook_stages import run_post_ready


class PostReadyHooks:
    def __init__(
        self,
        configured: bool,
        run: Callable[[Deployment], None],
        started_before: Callable[[int], bool],
        log: Callable[[str], None],
    ) -> None:
        """`run`: the stage for one deployment (hook_stages.run_post_ready, bound);
        `started_before`: whether the store holds a post-ready run of that deployment."""
        self.configured = configured
        self._run = run
        self._started_before = started_before
        self._log = log
        self._threads: dict[int, threading.Thread | None] = {}  # None: ran before this agent

    def begin(self, deployment: Deployment) -> None:
        if not self.configured or deployment.id in self._threads:
            return
        if self._started_before(deployment.id):
            self._threads[deployment.id] = None
            return
        thread = threading.Thread(
            target=self._guarded,
            args=(deployment,),
            name=f"post-ready-{deployment.id}",
            daemon=True,
        )
        self._threads[deployment.id] = thread
        thread.start()

    def finished(self, deployment_id: int) -> bool:
        """Whether the deployment's post-ready hooks have ended (or there are none)."""
        if not self.configured:
            return True
        if deployment_id not in self._threads:
            return False
        thread = self._threads[deployment_id]
        return thread is None or not thread.is_alive()

    def _guarded(self, deployment: Deployment) -> None:
        try:
            self._run(deployment)
        except Exception as exc:  # a store or engine error must not end silently
            self._log(f"post-ready hooks of #{deployment.id} failed to run: {exc!r}")


def post_ready_hooks(
    inst: Installation, actor: Actor, log: Callable[[str], None]
) -> PostReadyHooks:
    """The post-ready hooks of `inst`'s configuration, run by the agent as `actor`."""
    return PostReadyHooks(
        bool(hooks_at(inst.config.hooks, "post-ready")),
        lambda deployment: run_post_ready(inst, actor, deployment, log),
        lambda deployment_id: inst.store.hook_started(deployment_id, "post-ready"),
        log,
    )


def off_the_tick(
    switch: Callable[[], Iterable[OperationEvent]],
    hooks: list[Hook],
    log: Callable[[str], None],
) -> Callable[[], Iterable[OperationEvent]]:
    if not switch_hooked(hooks):
        return switch
    running = threading.Lock()

    def run() -> None:
        try:
            for event in switch():
                if isinstance(event, Outcome):
                    log(f"auto switch: {event.text}")
        except LockHeld as exc:
            log(f"auto switch postponed: {exc}")
        except Exception as exc:  # the thread's end must be said, never silent
            log(f"auto switch failed: {exc!r}")
        finally:
            running.release()

    def start() -> Iterator[OperationEvent]:
        if running.acquire(blocking=False):  # else: the last one still runs its hooks
            threading.Thread(target=run, name="auto-switch", daemon=True).start()
        return iter(())

    return start
