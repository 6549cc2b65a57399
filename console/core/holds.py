"""What holds a service's releases back while people decide: a deploy freeze and maintenance mode.

A `Freeze` ("no releases until Monday", Kamal's `lock acquire -m`, Dokku's `apps:lock`) refuses
deploy, switch and canary until it is lifted or its `until` passes; rollback and maintenance stay
open, because a way back must always exist. `Maintenance` is the page the proxy answers every
client with while it is on. Both are values here (pure, no I/O); the store keeps them
(store/holds.py), the operations set them (ops/holds.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from html import escape as html_escape
from pathlib import Path

from console.core.durations import duration_text

# The operations a freeze refuses, by the first word of their lock action ("deploy v2",
# "canary", "canary promote" …). Not rollback, canary abort, maintenance or proxy install:
# each is a way back or a way to keep clients informed.
FROZEN_ACTIONS = frozenset({"deploy", "switch", "canary"})
_RELATIVE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class HoldError(ValueError):
    """An operator's value for a freeze or maintenance that cannot be used; one paragraph."""


@dataclass(frozen=True, slots=True)
class Freeze:
    """A deploy freeze: who set it, why, since when, and until when (None: until unfrozen)."""

    message: str
    actor: str
    since: float
    until: float | None = None

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def describe(self, now: float) -> str:
        """'frozen by alice since 2026-12-06 19:00 UTC until … (2h left): "no releases"'."""
        until = " until unfrozen"
        if self.until is not None:
            until = f" until {utc_text(self.until)} ({duration_text(self.until - now)} left)"
        return f'frozen by {self.actor} since {utc_text(self.since)}{until}: "{self.message}"'


@dataclass(frozen=True, slots=True)
class Maintenance:
    """Maintenance mode as recorded: what clients are answered, since when, by whom."""

    message: str  # the message, or "page FILE" for a page of the operator's
    actor: str
    since: float
    retry_after: int | None = None

    def describe(self) -> str:
        retry = f", Retry-After {self.retry_after} s" if self.retry_after else ""
        return (
            f"maintenance on since {utc_text(self.since)} by {self.actor}: clients get 503 "
            f'"{self.message}"{retry}'
        )


@dataclass(frozen=True, slots=True)
class Holds:
    """What `status` shows of both: the freeze in force and maintenance, each or None."""

    freeze: Freeze | None = None
    maintenance: Maintenance | None = None


NO_HOLDS = Holds()


def utc_text(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def freeze_refusal(freeze: Freeze, action: str, now: float) -> str | None:
    """The one-paragraph refusal of `action` under `freeze`; None when the freeze allows it."""
    words = action.split()
    if not words or words[0] not in FROZEN_ACTIONS or words[:2] == ["canary", "abort"]:
        return None
    if not freeze.active(now):
        return None
    return (
        f"'{action}' refused: releases are {freeze.describe(now)}. Rollback stays open. "
        "Lift the freeze with `bluegreen unfreeze` when releases may go on."
    )


def parse_until(text: str, now: float) -> float:
    """`--until`: an ISO date/time (a time without a zone is the host's local time) or a
    duration from now (`2h`, `3d`, `1d12h`, `90m`). HoldError for anything else or the past."""
    value = text.strip()
    match = _RELATIVE.fullmatch(value)
    if value and match and any(match.groups()):
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return now + days * 86_400 + hours * 3_600 + minutes * 60 + seconds
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HoldError(
            f"--until '{text}' is neither a date and time nor a duration: give an ISO time "
            "such as 2026-12-08T09:00 (the host's local time, or add Z or +01:00) or a "
            "duration from now such as 2h, 3d or 1d12h."
        ) from None
    until = parsed.timestamp()  # naive: local time, as `date` on this host shows it
    if until <= now:
        raise HoldError(
            f"--until '{text}' ({utc_text(until)}) is already past (now {utc_text(now)}): a "
            "freeze must end in the future. Give a later time, or leave --until out to freeze "
            "until `bluegreen unfreeze`."
        )
    return until


# A maintenance page is answered from one buffer (HAProxy's is 16 KiB with the headers).
MAX_PAGE_BYTES = 12 * 1024
# On every maintenance answer, so bluegreen can tell the proxy's page from an app's 503.
MAINTENANCE_HEADER = "X-Bluegreen-Maintenance"


@dataclass(frozen=True, slots=True)
class MaintenancePage:
    """What the proxy answers every client with while maintenance is on (with a 503)."""

    html: str
    retry_after: int | None = None


def message_page(message: str) -> str:
    """A small HTML page saying `message` (escaped)."""
    text = html_escape(message)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        "<title>Down for maintenance</title></head>\n"
        f'<body style="font-family: sans-serif; margin: 4em auto; max-width: 40em">\n'
        f"<h1>Down for maintenance</h1>\n<p>{text}</p>\n</body></html>\n"
    )


def read_page(path: str) -> str:
    """The operator's `--page FILE`: an existing, readable UTF-8 file of at most
    MAX_PAGE_BYTES. HoldError (one paragraph) otherwise."""
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise HoldError(f"--page {path}: no such file. Give the path of an HTML page.") from None
    except IsADirectoryError:
        raise HoldError(f"--page {path} is a directory: give the path of an HTML page.") from None
    except OSError as exc:
        raise HoldError(
            f"--page {path} cannot be read ({exc.strerror}): check its permissions."
        ) from None
    if len(data) > MAX_PAGE_BYTES:
        raise HoldError(
            f"--page {path} is {len(data)} bytes; a maintenance page may be at most "
            f"{MAX_PAGE_BYTES} bytes (the proxy answers it from one buffer). Move images and "
            "styles elsewhere, or use --message."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HoldError(f"--page {path} is not UTF-8 text: save it as UTF-8 HTML.") from None
    if "\x00" in text or not text.strip():
        raise HoldError(f"--page {path} is empty or binary: give an HTML page.")
    return text
