"""Secret redaction and log-line sanitising: nothing that reaches a screen, a log or the store may
carry a password, a webhook URL or a terminal escape sequence.

`Redactor.redact` masks the exact secrets it was given (the resolved config values) *and*,
generically, credentials that look like credentials wherever they come from:
`scheme://user:PASSWORD@host`, `password=…` / `PGPASSWORD=…` / `password: Some("…")` key-value
forms, `Bearer …` tokens and Slack webhook paths. The reference service logs its database URLs in
clear through a library, at thousands of lines a second, so everything is one precompiled regex
alternation and a single `sub` per line.

`sanitize_log_line` turns raw container output (bytes, possibly hostile) into one line of plain
text: no escape sequences, no control characters, bounded length, redacted. It never adds markup;
the TUI must still render the result as plain `Text`, never as Rich markup.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter "secrets" (e.g. "pg") would mask half of every line

# Speed: CPython's regex engine skips ahead with a first-character set when *every* top-level
# alternative starts with a plain literal. So each generic pattern is anchored on a rare character
# (':' '=' '/' 'B' 'b') and looks *behind* for its keyword, instead of starting with the keyword or
# a scheme (which would be tried at every letter): a line without credentials gets ~6x cheaper.
# Each alternative has exactly one capture group: the part to mask (`match.lastindex`).

_KEYWORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
)  # PGPASSWORD, DB_PASSWORD…
_KEY_ENDINGS = ("", '"', "'", " ")  # password=  "password":  'password':  password = …


def _key_before(separator: str) -> str:
    # Lookbehind must be fixed-width, hence one per keyword and ending.
    return "|".join(
        f"(?<=(?i:{keyword}){ending}{separator})"
        for keyword in _KEYWORDS
        for ending in _KEY_ENDINGS
    )


# The value after `password=` / `password: ` / `password: Some(`: quoted (kept quotes) or a bare
# word. Rust's `password: None` carries nothing to hide.
_KV_VALUE = (
    r"[ \t]*(?:Some\()?(?!None\b)"
    r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,;&)}\]\"']+)"
)
# `scheme://user:PASSWORD@host`; the password may itself hold a raw '@' (greedy up to the last one
# before a '/' or whitespace).
_URL_PASSWORD = r"//[^\s:/@]*:([^\s/]+)(?=@)"
_GENERIC = "|".join(
    (
        f":(?:{_URL_PASSWORD}|(?:{_key_before(':')}){_KV_VALUE})",
        f"=(?:{_key_before('=')}){_KV_VALUE}",
        r"/(?<=hooks\.slack\.com/)(?:services|workflows|triggers)/([^\s\"'<>)]+)",
        r"Bearer[ \t]+([A-Za-z0-9._~+/=-]{8,})",
        r"bearer[ \t]+([A-Za-z0-9._~+/=-]{8,})",
    )
)


class Redactor:
    """Masks known secrets and credential-shaped text. Immutable and thread-safe once built."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known: set[str] = set()
        for secret in secrets:
            known.update(_variants(secret))
        self._secrets = frozenset(s for s in known if len(s) >= _MIN_SECRET_LEN)
        # Longest first so a full URL wins over its own password component at the same position.
        # Literals come first and carry no group, so `lastindex is None` means "a known secret".
        literals = "|".join(re.escape(s) for s in sorted(self._secrets, key=len, reverse=True))
        self._known = re.compile(literals) if literals else None
        self._pattern = re.compile(f"{literals}|{_GENERIC}" if literals else _GENERIC)

    @property
    def secret_count(self) -> int:
        """How many literal strings are masked (secrets plus their derived forms)."""
        return len(self._secrets)

    def redact(self, text: str) -> str:
        """Return `text` with every known secret and credential-shaped value replaced by `***`."""
        return self._pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        group = match.lastindex
        if group is None:
            return MASK
        value = match.group(group)
        kept = match.string[match.start() : match.start(group)]
        if self._known is not None:
            # The kept part (e.g. a URL's user) was consumed by this match, so the literal
            # alternative never saw it: mask known secrets in it too. Runs on matches only.
            kept = self._known.sub(MASK, kept)
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
        quote = value[0] if quoted else ""
        return f"{kept}{quote}{MASK}{quote}"


def _variants(secret: str) -> set[str]:
    """The secret, its percent-decoded/encoded forms and, for a URL, its password in both forms."""
    variants = {secret, urllib.parse.unquote(secret), urllib.parse.quote(secret, safe="")}
    try:
        password = urllib.parse.urlsplit(secret).password
    except ValueError:  # e.g. an invalid port: still a secret, just not a parseable URL
        password = None
    if password:
        variants.update({password, urllib.parse.unquote(password)})
    return variants


# ── log lines ─────────────────────────────────────────────────────────────────────────────────────

# After ESC: CSI (`ESC [` … final byte), string sequences (OSC incl. OSC 8 hyperlinks, DCS, SOS, PM,
# APC) ended by BEL or ST — or by the next ESC / end of line when unterminated — or any other escape
# (`ESC ( B`, `ESC 7`, …); then the 8-bit CSI and string introducers. Each alternative starts with a
# literal so the engine can skip ahead between escapes.
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|[ -/]*[0-~])"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
# C0 (tab is expanded before this runs), DEL, C1, Unicode line/paragraph separators (they split a
# line in a log widget), bidi overrides (they can make displayed text lie about its order) and lone
# surrogates (a str caller may pass them; they cannot be encoded to a terminal or the store).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def sanitize_log_line(raw: bytes | str, redactor: Redactor | None, max_chars: int = 4000) -> str:
    """One raw log line → plain, printable, bounded, redacted text. Never raises on any input.

    Redaction runs before truncation (the contract listed it after) so a cut can never leave the
    first half of a secret visible.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if "\x1b" in text or not text.isascii():  # fast path: most lines have neither
        text = _ESCAPES.sub("", text)
    if "\t" in text:
        text = text.expandtabs(4)
    if not text.isprintable():  # printable implies no controls, separators or bidi overrides
        text = _CONTROLS.sub("", text)
    if redactor is not None:
        text = redactor.redact(text)
    if len(text) > max_chars:
        dropped = len(text[max_chars:].encode("utf-8", errors="replace"))
        text = f"{text[:max_chars]} … [+{_size(dropped)}]"
    return text


def _size(n_bytes: int) -> str:
    if n_bytes < 1000:
        return f"{n_bytes} B"
    if n_bytes < 1_000_000:
        return f"{n_bytes / 1000:.0f} kB"
    return f"{n_bytes / 1_000_000:.1f} MB"
