"""`bluegreen proxy install`: write bluegreen's own proxy files, validate them, and say (or do)
what the operator's own configuration needs. Idempotent; never touches the operator's files.

Before the first deploy nothing is live in the store, and the files make the proxy answer 503
"no colour is live yet"; the first switch makes a colour route.
"""

from __future__ import annotations

from collections.abc import Iterator

from console.core.access import apply_groups
from console.core.contracts.proxy import ProxyError
from console.core.installation import Installation
from console.core.model import Actor, Color, OperationEvent, Outcome, Progress
from console.core.ops.operation import describe_failure, mutating


def proxy_install(
    inst: Installation,
    actor: Actor,
    reload: bool = False,
    read_only: bool = False,
    adopt: Color | None = None,
) -> Iterator[OperationEvent]:
    """`adopt`: a migration from the old scripts — route to the container already running in that
    colour, so that reconcile finds the proxy serving it and records the adoption (with the gate's
    state). Only while nothing is live in the store: never a way around a switch's gate."""
    with mutating(inst, "proxy install", actor, read_only):
        for note in apply_groups(inst.config):
            yield Progress(note)
        live = inst.store.live()
        if adopt is not None:
            refused = _adoption_refused(inst, adopt, live)
            if refused:
                yield Outcome(False, f"proxy install --adopt {adopt} refused: {refused}")
                return
            live = adopt
        target = f"{live} live" if live else "nothing live yet (it answers 503 until a switch)"
        yield Progress(f"Rendering bluegreen's files for {inst.proxy.name}: {target}…")
        try:
            canary = inst.store.canary() if live is not None else None  # keep a running one
            written = inst.proxy.write_files(live, canary)
            if reload:
                inst.proxy.install(live, canary)
        except ProxyError as exc:
            yield Outcome(False, f"proxy install failed: {describe_failure(exc)}")
            return
        if written:
            for path in written:
                yield Progress(f"Wrote {path}.")
            done = f"Wrote and validated {len(written)} file(s)"
        else:
            done = "bluegreen's proxy files were already up to date (validated)"
        if reload:
            done += f"; {inst.proxy.name} reloaded and routes to {live or 'nothing yet'}"
        inst.store.record_event("proxy", f"proxy install: {done}.", "info", str(actor), live)
        yield Outcome(True, f"{done}.")


def _adoption_refused(inst: Installation, color: Color, live: Color | None) -> str | None:
    if live is not None:
        return (
            f"{live} is already live in bluegreen's store; adopting is only for taking over an "
            "installation bluegreen has not run yet (use `switch` to move traffic)."
        )
    try:
        info = inst.runtime.inspect(inst.config.slot(color).container)
    except Exception as exc:
        return f"Docker could not be asked about {color}'s container ({exc})."
    if info is None or not info.running:
        container = inst.config.slot(color).container
        return (
            f"no container named {container} runs in {color}: start the current version there "
            "(as the old scripts did) or deploy it with `bluegreen deploy`."
        )
    return None
