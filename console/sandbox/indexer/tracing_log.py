"""The stand-in's logs, as the reference's `tracing_subscriber::fmt` writes them: ANSI colours
unless NO_COLOR=1, `LEVEL target: message`, spans in bold. Runs inside the image (stdlib only)."""

import re
import sys
import threading
from datetime import datetime, timezone


# ── logging, tracing_subscriber::fmt style ──────────────────────────────────────────────────────
class Log:
    LEVEL_COLOURS = {"DEBUG": "34", "INFO": "32", "WARN": "33", "ERROR": "31"}

    def __init__(self, colour):
        self.colour = colour
        self.lock = threading.Lock()

    def _dim(self, text):
        return "\x1b[2m" + text + "\x1b[0m" if self.colour else text

    def line(self, level, target, message, span=None):
        now = datetime.now(timezone.utc)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % now.microsecond
        padded = level.rjust(5)
        if self.colour:
            padded = "\x1b[" + self.LEVEL_COLOURS[level] + "m" + padded + "\x1b[0m"
        span_part = ""
        if span:
            span_part = ("\x1b[1m" + span + "\x1b[0m" if self.colour else span) + self._dim(":") + " "
        return (
            self._dim(stamp) + " " + padded + " " + span_part
            + self._dim(target) + self._dim(":") + " " + message + "\n"
        )

    def write(self, lines):
        with self.lock:
            sys.stdout.write("".join(lines))
            sys.stdout.flush()

    def info(self, target, message, span=None):
        self.write([self.line("INFO", target, message, span)])

    def warn(self, target, message, span=None):
        self.write([self.line("WARN", target, message, span)])

    def error(self, target, message, span=None):
        self.write([self.line("ERROR", target, message, span)])


def redact_url(url):
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:<redacted>@", url)


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
