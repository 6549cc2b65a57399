"""The post-ready hooks of each deployment: once, when its colour first becomes ready, on a thread
of their own so the tick (and every colour's status) goes on while a warm-up runs. Once is
persisted: a run the store already holds (an earlier agent's, even one cut short by a restart)
is never started again. The switch policy waits until they have ended."""

from __future__ import annotations

import threading
from collections.abc import Callable

from console.core.config.hooks import hooks_at
from console.core.installation import Installation
from console.core.model import Actor, Deployment
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
