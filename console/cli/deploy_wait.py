"""`deploy --wait`: follow the new deployment until it is ready (or live), fails or times out.

Human lines (one per 5 % of progress or per 30 s, readable in a log over an 8-hour catch-up), or
with `--json` the JSON lines of wait_stream.py. The exit code is the outcome: 0 ready/switched,
1 failed, rolled back or timed out.
"""

from __future__ import annotations

import time

from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK
from console.cli.wait_stream import ProgressStream
from console.core.model import Phase, SlotState, SlotStatus
from console.core.service import Console

# A deployment in one of these phases will never become ready: `--wait` stops waiting.
_GIVEN_UP = (Phase.FAILED, Phase.CANCELLED, Phase.ROLLED_BACK)


def wait_for(
    console: Console,
    color: str,
    deployment_id: int | None,
    wanted: set[SlotState],
    timeout: float,
    as_json: bool,
) -> int:
    started = time.monotonic()
    last_step: tuple[SlotState, int] | None = None
    last_print = 0.0
    store = console.installation.store
    redact = console.installation.redactor.redact
    stream = ProgressStream(color) if as_json else None
    while True:
        status = console.status()
        slot = status.slots[color]  # type: ignore[index]
        deployment = store.deployment(deployment_id) if deployment_id else None
        if deployment_id is not None and slot.deployment_id != deployment_id:
            # The agent has not seen the new container yet: what it published is the replaced
            # deployment's ("ready"), never this one's progress.
            slot = SlotStatus(slot.color, SlotState.STARTING, deployment_id=deployment_id)
        if slot.state in wanted and slot.deployment_id == deployment_id:
            if stream is not None:
                stream.outcome(slot, deployment)
            else:
                render.say(f"{color} is {slot.state}.")
            return EXIT_OK
        failed = deployment is not None and deployment.phase in _GIVEN_UP
        if failed or (slot.state == SlotState.FAILED and slot.deployment_id == deployment_id):
            detail = redact(str((deployment and deployment.outcome) or slot.reason))
            if stream is not None:
                stream.outcome(slot, deployment, detail)
            render.error(f"{color} failed: {detail}")
            return EXIT_FAILED
        if stream is not None:
            stream.progress(slot, deployment)
        # One line per 5 % of progress or per 30 s: readable in a log over an 8-hour catch-up.
        step = (slot.state, int((slot.progress or 0) * 20))
        if not as_json and (step != last_step or time.monotonic() - last_print > 30):
            render.say(render.progress_line(slot, catchup=console.config.catchup))
            last_step, last_print = step, time.monotonic()
        if timeout and time.monotonic() - started > timeout:
            text = (
                f"Gave up waiting after {timeout:.0f} s; {color} is {slot.state}. "
                "The agent keeps going: check `bluegreen status`."
            )
            if stream is not None:
                stream.outcome(slot, deployment, text, timed_out=True)
            render.error(text)
            return EXIT_FAILED
        time.sleep(0.5)
