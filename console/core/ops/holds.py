"""Freeze and maintenance: the holds an operator puts on a service's releases.

`freeze` records who froze, why and until when; from then on `operation.mutating` refuses
deploy, switch and canary (the CLI, the TUI's keys and the agent's switch policy alike) until
`unfreeze` or the `until` passes. `maintenance_on` has the proxy answer every client with a page
(bluegreen's own probe still reaches the colours); `maintenance_off` routes as before. Each runs
under the operator lock, is refused in read-only mode, audited with its actor and notified.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from console.core.contracts.proxy import ProxyError
from console.core.holds import Freeze, Maintenance, MaintenancePage, message_page, utc_text
from console.core.installation import Installation
from console.core.model import Actor, EventLevel, OperationEvent, Outcome, Progress
from console.core.ops.operation import describe_failure, mutating


def freeze(
    inst: Installation,
    actor: Actor,
    message: str,
    until: float | None = None,
    read_only: bool = False,
) -> Iterator[OperationEvent]:
    """Freeze releases (or replace the freeze in force) with `message` until `until`."""
    message = " ".join(message.split())
    if not message:
        yield Outcome(False, "Freeze refused: say why with --message (it is shown to everyone).")
        return
    with mutating(inst, "freeze", actor, read_only):
        now = time.time()
        before = inst.store.freeze(now)
        held = Freeze(message, str(actor), now, until)
        inst.store.set_freeze(held)
        service = inst.config.service
        was = f" (replacing the freeze by {before.actor})" if before else ""
        text = (
            f"{service}: releases {held.describe(now)}{was}. Deploy, switch and canary are "
            "refused until `bluegreen unfreeze`; rollback stays open."
        )
        yield _audited(inst, actor, "freeze", "freeze", text, "warning", "warning")


def unfreeze(inst: Installation, actor: Actor, read_only: bool = False) -> Iterator[OperationEvent]:
    with mutating(inst, "unfreeze", actor, read_only):
        now = time.time()
        held = inst.store.stored_freeze()
        service = inst.config.service
        if held is None:
            yield Outcome(True, f"{service}: releases are not frozen; nothing to lift.")
            return
        inst.store.set_freeze(None)
        if not held.active(now):
            ended = utc_text(held.until or now)
            text = f"{service}: the freeze by {held.actor} had ended at {ended}; nothing to lift."
        else:
            text = (
                f"{service}: releases unfrozen (frozen by {held.actor} since "
                f'{utc_text(held.since)}: "{held.message}"); deploy, switch and canary may go on.'
            )
        yield _audited(inst, actor, "unfreeze", "freeze", text, "success", "info")


def lift_expired(inst: Installation, actor: Actor) -> str | None:
    """Record a freeze whose `until` has passed as lifted (the agent does, each tick); the
    sentence said, or None. Readers already treat it as gone; this makes history say so."""
    now = time.time()
    held = inst.store.clear_expired_freeze(now)
    if held is None:
        return None
    text = (
        f"{inst.config.service}: the freeze by {held.actor} ended at "
        f'{utc_text(held.until or now)} ("{held.message}"); releases may go on.'
    )
    inst.store.record_event("unfreeze", text, "success", str(actor))
    inst.notifier.send("freeze", text, "info")
    return text


def maintenance_on(
    inst: Installation,
    actor: Actor,
    message: str | None = None,
    page_html: str | None = None,
    page_name: str = "",
    retry_after: int | None = None,
    read_only: bool = False,
) -> Iterator[OperationEvent]:
    """Answer every client with the page (`page_html`, read and checked by the caller with
    holds.read_page) or a page saying `message`."""
    if retry_after is not None and not 1 <= retry_after <= 86_400:
        yield Outcome(False, "Maintenance refused: --retry-after is seconds, 1 to 86400 (a day).")
        return
    said = " ".join((message or "").split()) or "Down for maintenance; back soon."
    page = MaintenancePage(page_html or message_page(said), retry_after)
    shown = f"page {page_name}" if page_html else said
    with mutating(inst, "maintenance on", actor, read_only):
        yield Progress(f"Answering every client with the maintenance page ({inst.proxy.name})…")
        try:
            inst.proxy.set_maintenance(page)
        except ProxyError as exc:
            yield _failed(inst, actor, "on", exc)
            return
        record = Maintenance(shown, str(actor), time.time(), retry_after)
        inst.store.set_maintenance(record)
        text = (
            f"{inst.config.service}: {record.describe()}. bluegreen's own probes still reach "
            "the colours; `bluegreen maintenance off` routes clients again."
        )
        yield _audited(inst, actor, "maintenance", "maintenance", text, "warning", "warning")


def maintenance_off(
    inst: Installation, actor: Actor, read_only: bool = False
) -> Iterator[OperationEvent]:
    with mutating(inst, "maintenance off", actor, read_only):
        yield Progress(f"Routing clients again through {inst.proxy.name}…")
        try:
            inst.proxy.set_maintenance(None)
        except ProxyError as exc:
            yield _failed(inst, actor, "off", exc)
            return
        inst.store.set_maintenance(None)
        text = f"{inst.config.service}: maintenance off; the proxy routes clients as before."
        yield _audited(inst, actor, "maintenance", "maintenance", text, "success", "info")


def _audited(
    inst: Installation,
    actor: Actor,
    kind: str,
    notify_kind: str,
    text: str,
    level: EventLevel,
    notify_level: str,
) -> Outcome:
    """Record the event with its actor, notify, and say it: how every hold ends well."""
    inst.store.record_event(kind, text, level, str(actor))
    inst.notifier.send(notify_kind, text, notify_level)
    return Outcome(True, text)


def _failed(inst: Installation, actor: Actor, which: str, exc: ProxyError) -> Outcome:
    text = f"{inst.config.service}: maintenance {which} failed: {describe_failure(exc)}"
    inst.store.record_event("failure", text, "error", str(actor))
    inst.notifier.send("failure", text, "error")
    return Outcome(False, text)
