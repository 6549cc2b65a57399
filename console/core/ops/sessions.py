"""The session-kept switch's operations: keep the old colour's sessions, end the migration, retire.

`switching.switch` asks `kept_for_switch` which sessions to keep, sets the proxy's rule before it
moves traffic (so no request falls between the two), and calls `after_route` once the proxy
routes to the new colour: a session-kept switch opens a `Migration`, any other switch or rollback
ends one (a rollback has already sent everyone to the old colour; the rule is cleared after it).
`retire_locked` stops the old colour and ends the migration — the agent calls it at zero sessions
or the timeout, `bluegreen sessions retire` after a confirmation naming the count.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from console.core.contracts.proxy import ProxyError
from console.core.contracts.runtime import ContainerRuntimeError
from console.core.contracts.sessions import KeptSessions, keeps_sessions
from console.core.durations import duration_text
from console.core.installation import Installation
from console.core.measures.sessions import Migration, MigrationView
from console.core.model import Actor, Color, OperationEvent, Outcome, Progress, SwitchPlan
from console.core.ops.operation import describe_failure, mutating
from console.core.store.sessions import counts, migration, set_migration
from console.core.store.store import Store


def view(store: Store) -> MigrationView | None:
    """The migration in progress with the agent's latest counts, or None."""
    running = migration(store)
    return MigrationView.of(running, counts(store)) if running else None


def kept_for_switch(
    inst: Installation, plan: SwitchPlan, keep: bool | None
) -> tuple[KeptSessions | None, str | None]:
    """The sessions this switch keeps on the live colour (None: it moves everyone), or a refusal.
    `keep`: `switch --keep-sessions` (True), `--all` (False), else `[sessions] keep`."""
    sessions = inst.config.sessions
    wanted = sessions.enabled and sessions.keep if keep is None else keep
    if not wanted:
        return None, None
    if not sessions.enabled:
        return None, (
            "Switch refused: --keep-sessions needs a [sessions] table naming the session cookie "
            "(see config.example.toml); nothing was changed."
        )
    if keeps_sessions(inst.proxy) is None:
        return None, (
            f"Switch refused: {inst.proxy.name} cannot keep sessions on their colour; switch "
            "without --keep-sessions, or use nginx or HAProxy. Nothing was changed."
        )
    old = plan.from_color
    if old is None:
        return None, None  # nothing served yet: there are no sessions to keep
    match: str | None = old
    if sessions.value == "version":  # the cookie names the version the session started on
        status = inst.store.slot_status(old)
        deployment = inst.store.active_deployment(old) or inst.store.latest_deployment(old)
        match = (status.version if status else None) or (deployment.version if deployment else None)
        if not match:
            return None, (
                f"Switch refused: the version {old} runs is not known, so its sessions' "
                f"{sessions.cookie} cookie cannot be matched; switch without --keep-sessions "
                'or set [sessions] value = "color". Nothing was changed.'
            )
    return KeptSessions(old, match or old, plan.to_color), None


def sessions_refusal(inst: Installation, color: Color) -> str | None:
    """Why a deploy may not replace `color` now: clients in a session still use it."""
    running = migration(inst.store)
    if running is None or running.old != color or inst.store.live() != running.new:
        return None
    seen = counts(inst.store)
    left = _sessions_text(seen.on(color) if seen else None)
    return (
        f"Deploy refused: {color} still serves the sessions kept on it ({left}); retire it "
        "first (`bluegreen sessions retire`), wait for its sessions to end, or roll back."
    )


def describe_kept(inst: Installation, kept: KeptSessions) -> str:
    """'sessions kept on blue (cookie deployment=v1, 3 sessions)' for the confirmation and event."""
    seen = counts(inst.store)
    count = seen.on(kept.old) if seen else None
    number = f", {count} session{'s' if count != 1 else ''}" if count is not None else ""
    cookie = inst.config.sessions.cookie
    return f"sessions kept on {kept.old} (cookie {cookie}={kept.match}{number})"


def keep_before_switch(inst: Installation, kept: KeptSessions) -> None:
    """The proxy's rule, set while `kept.old` is still live (so it changes nothing yet)."""
    router = keeps_sessions(inst.proxy)
    if router is not None:
        router.set_sessions(kept)


def after_route(
    inst: Installation, to: Color, kind: str, actor: Actor, kept: KeptSessions | None
) -> str:
    """After the proxy routes to `to`: open the migration `kept` describes, or end any other.
    The sentence to add to the switch's event ("" when sessions play no part)."""
    store, config = inst.store, inst.config.sessions
    now = time.time()
    if kept is not None and kept.new == to:
        seen = counts(store)
        set_migration(
            store,
            Migration(
                kept.old,
                kept.new,
                kept.match,
                now,
                now + config.timeout_seconds,
                config.retire,
                seen.on(kept.old) if seen else None,
            ),
        )
        return f"Sessions kept on {kept.old} (cookie {config.cookie}={kept.match})."
    running = migration(store)
    if running is None:
        return ""
    router = keeps_sessions(inst.proxy)
    note = f"Sessions are no longer kept on {running.old}"
    if router is not None:
        try:
            router.set_sessions(None)
        except ProxyError as exc:  # the rule names the old `new` colour: inert after this move
            note += f" (the proxy's rule stays until the agent clears it: {describe_failure(exc)})"
    set_migration(store, None)
    store.record_event("sessions", f"{note}: {kind} to {to}.", "info", str(actor), to)
    return f"{note}."


def retire(inst: Installation, actor: Actor, read_only: bool = False) -> Iterator[OperationEvent]:
    """`bluegreen sessions retire`: stop the old colour of the migration now (after the CLI's
    or the console's confirmation naming its sessions)."""
    with mutating(inst, "retire the old colour", actor, read_only):
        seen = counts(inst.store)
        running = migration(inst.store)
        left = seen.on(running.old) if seen and running else None
        yield from retire_locked(inst, actor, f"confirmed with {_sessions_text(left)} left")


def retire_locked(inst: Installation, actor: Actor, why: str) -> Iterator[OperationEvent]:
    """Stop the migration's old colour and end it; the caller holds the operator lock."""
    store = inst.store
    running = migration(store)
    if running is None:
        yield Outcome(False, "Nothing to retire: no session-kept switch is in progress.")
        return
    if store.live() != running.new:
        set_migration(store, None)
        yield Outcome(False, f"Nothing to retire: {running.new} is no longer live.")
        return
    seen = counts(store)
    left = seen.on(running.old) if seen else None
    yield Progress(f"Stopping {running.old} ({_sessions_text(left)} left)…")
    try:
        inst.runtime.stop(inst.config.slot(running.old).container)
    except ContainerRuntimeError as exc:
        text = f"Could not stop {running.old}: {describe_failure(exc)} Sessions stay kept on it."
        store.record_event("failure", text, "error", str(actor), running.old)
        yield Outcome(False, text)
        return
    router = keeps_sessions(inst.proxy)
    if router is not None:
        with contextlib.suppress(ProxyError):  # inert now: `old` no longer serves anyone
            router.set_sessions(None)
    set_migration(store, None)
    since = duration_text(time.time() - running.started_at)
    text = (
        f"Retired {running.old}: {why} ({_sessions_text(running.started_with)} on it at the "
        f"switch to {running.new}, {since} ago); rollback to it is no longer instant."
    )
    store.record_event("retire", text, "info", str(actor), running.old)
    inst.notifier.send("retired", f"{inst.config.service}: {text}", "info")
    yield Outcome(True, text)


def _sessions_text(count: int | None) -> str:
    if count is None:
        return "an uncounted number of sessions"
    return f"{count} session{'s' if count != 1 else ''}"
