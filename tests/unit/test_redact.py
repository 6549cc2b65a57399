"""Redaction and log-line sanitising: known secrets, generic credential shapes, hostile bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.redact import MASK, Redactor, sanitize_log_line

DB_URL = "postgres://indexer:s3cr%40t-Pw@db.internal:5432/explorer"
WEBHOOK = "https://hooks.slack.com/services/T0AAA/B0BBB/xyzXYZsecret"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([DB_URL, WEBHOOK])


# ── known secrets ────────────────────────────────────────────────────────────────────────────────


def test_full_url_secret_is_masked_whole(redactor: Redactor) -> None:
    assert redactor.redact(f"dest={DB_URL} ok") == f"dest={MASK} ok"


def test_password_component_is_masked_in_encoded_and_decoded_forms(redactor: Redactor) -> None:
    out = redactor.redact("tried s3cr%40t-Pw then s3cr@t-Pw")
    assert "s3cr" not in out
    assert out.count(MASK) == 2


def test_percent_decoded_url_is_masked(redactor: Redactor) -> None:
    decoded = "postgres://indexer:s3cr@t-Pw@db.internal:5432/explorer"
    assert "s3cr" not in redactor.redact(f"url {decoded}")


def test_short_secrets_are_ignored() -> None:
    redactor = Redactor(["pg", "", "abc"])
    assert redactor.secret_count == 0
    assert redactor.redact("pg abc upgrade") == "pg abc upgrade"


def test_secret_with_regex_metacharacters_is_literal() -> None:
    redactor = Redactor(["a.b*c(d"])
    assert redactor.redact("x a.b*c(d y axbbc(d") == f"x {MASK} y axbbc(d"


def test_secret_inside_the_kept_part_of_a_generic_match_is_masked() -> None:
    # The URL pattern keeps the user part; a known secret there must still go.
    redactor = Redactor(["tenant-key-42"])
    out = redactor.redact("http://tenant-key-42:pw@host/")
    assert "tenant-key-42" not in out
    assert "pw@" not in out


# ── generic credential shapes ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("postgres://u:hunter2@db/x", f"postgres://u:{MASK}@db/x"),
        ("postgresql+psycopg://u:p@ss@db:5432/x", f"postgresql+psycopg://u:{MASK}@db:5432/x"),
        ("redis://:tok3n@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("host=db user=x password=hunter2 dbname=y", f"host=db user=x password={MASK} dbname=y"),
        ("PGPASSWORD=hunter2", f"PGPASSWORD={MASK}"),
        ("DB_PASSWORD='two words'", f"DB_PASSWORD='{MASK}'"),
        ('password: Some("hunter2"), port: 5432', f'password: Some("{MASK}"), port: 5432'),
        ('{"password": "a\\"b", "user": "u"}', f'{{"password": "{MASK}", "user": "u"}}'),
        ("?sslmode=require&password=pw&x=1", f"?sslmode=require&password={MASK}&x=1"),
        ("client_secret=abc123", f"client_secret={MASK}"),
        ("Authorization: Bearer abcdefgh12345", f"Authorization: Bearer {MASK}"),
        (
            "posting to https://hooks.slack.com/services/T1/B2/C3 now",
            f"posting to https://hooks.slack.com/services/{MASK} now",
        ),
    ],
)
def test_generic_credentials_are_masked(line: str, expected: str) -> None:
    assert Redactor().redact(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Processing block height 1234567 with 12 transactions",
        "catchup status src_height=Height(812) index_states={explorer: 800}",
        'INFO catchup: cometindex::indexer: catchup completed why="already caught up"',
        "API server listening on 0.0.0.0:8080",
        "http://host:8080/path@v2 and mail user@example.com",
        "password: None",
        'FATAL: password authentication failed for user "indexer"',
        "password_file=/run/secrets/db tokens=12",
    ],
)
def test_ordinary_lines_are_untouched(line: str) -> None:
    assert Redactor([DB_URL]).redact(line) == line


def test_a_reindex_log_stream_keeps_its_lines_and_loses_its_secrets(redactor: Redactor) -> None:
    """10k lines of a re-index's log, a secret in every 500th. (How fast: bench/redaction.py.)"""
    lines = reindex_lines(10_000)
    lines[::500] = [f"connecting to {DB_URL} password=x"] * len(lines[::500])
    out = [redactor.redact(line) for line in lines]
    assert all("s3cr" not in line for line in out)
    assert out[1] == lines[1]  # a line without a secret is left as it was


def test_sanitizing_a_coloured_reindex_stream_strips_every_line(redactor: Redactor) -> None:
    raw = [f"{line}\n".encode() for line in reindex_lines(10_000)]
    out = [sanitize_log_line(line, redactor) for line in raw]
    expected = (
        "2024-05-01T12:00:01Z  INFO explorer: Processing block height 1000001 with 1 transactions"
    )
    assert out[1] == expected and not any("\x1b" in line for line in out)


def reindex_lines(count: int) -> list[str]:
    """A re-index's coloured log lines (bench/redaction.py times the same)."""
    return [
        f"\x1b[2m2024-05-01T12:00:{i % 60:02d}Z\x1b[0m \x1b[32m INFO\x1b[0m explorer: "
        f"Processing block height {1_000_000 + i} with {i % 7} transactions"
        for i in range(count)
    ]


# ── sanitize_log_line ────────────────────────────────────────────────────────────────────────────


def test_colour_codes_and_osc8_hyperlinks_are_stripped() -> None:
    raw = b"\x1b[2m12:00\x1b[0m \x1b[1;32mINFO\x1b[0m \x1b]8;;http://evil/\x1b\\click\x1b]8;;\x07 x"
    assert sanitize_log_line(raw, None) == "12:00 INFO click x"


def test_controls_are_removed_and_tabs_become_spaces() -> None:
    raw = b"a\tb\x00c\x07d\x7fe\r\n"
    assert sanitize_log_line(raw, None) == "a   bcde"


def test_c1_controls_bidi_overrides_and_line_separators_are_removed() -> None:
    raw = "x\x9b31my\u202ez\u2028w\x85"
    assert sanitize_log_line(raw, None) == "xyzw"


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert sanitize_log_line(b"ok \xff\xfe end", None) == "ok \ufffd\ufffd end"


def test_long_lines_are_truncated_with_a_size_suffix() -> None:
    out = sanitize_log_line("a" * 100_000, None, max_chars=5000)
    assert out == "a" * 5000 + " … [+95 kB]"


def test_truncation_never_leaves_half_a_secret(redactor: Redactor) -> None:
    line = "x" * 3990 + DB_URL
    out = sanitize_log_line(line, redactor)
    assert "postgres://indexer" not in out


def test_secret_split_by_escape_codes_is_still_masked(redactor: Redactor) -> None:
    raw = b"dest=postgres://indexer:s3cr%40t-\x1b[0mPw@db.internal:5432/explorer"
    assert "s3cr" not in sanitize_log_line(raw, redactor)


def test_markup_is_returned_verbatim_as_plain_text() -> None:
    assert sanitize_log_line("[bold red]boom[/] [link=x]y[/link]", None) == (
        "[bold red]boom[/] [link=x]y[/link]"
    )


# ── properties ───────────────────────────────────────────────────────────────────────────────────

_FORBIDDEN = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} | {"\u2028", "\u2029"}

# Secrets drawn without '*' so the mask itself can never spell one.
_secrets = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*"),
    min_size=4,
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=3000))
def test_sanitize_never_raises_nor_returns_controls(raw: bytes, max_chars: int) -> None:
    out = sanitize_log_line(raw, Redactor(["hunter22"]), max_chars=max_chars)
    assert not _FORBIDDEN.intersection(out)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=500))
def test_sanitize_text_input_never_returns_controls(raw: str) -> None:
    assert not _FORBIDDEN.intersection(sanitize_log_line(raw, None))


@settings(max_examples=500, deadline=None)
@given(secret=_secrets, before=st.text(max_size=200), after=st.text(max_size=200))
def test_planted_secret_never_survives(secret: str, before: str, after: str) -> None:
    redactor = Redactor([secret])
    assert secret not in redactor.redact(before + secret + after)
    assert secret not in sanitize_log_line((before + secret + after).encode(), redactor)


@settings(max_examples=300, deadline=None)
@given(
    password=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*"),
        min_size=4,
        max_size=30,
    ),
    before=st.text(max_size=100),
    after=st.text(max_size=100),
)
def test_planted_url_password_never_survives(password: str, before: str, after: str) -> None:
    from urllib.parse import quote

    url = f"postgres://indexer:{quote(password, safe='')}@db:5432/explorer"
    redactor = Redactor([url])
    for planted in (url, password):
        out = redactor.redact(f"{before} {planted} {after}")
        assert planted not in out
