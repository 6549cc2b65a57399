"""Hostile input: random config text and structures, random CLI arguments, hostile image names and
colours, hostile container log bytes — always a clear sentence and exit code 1/2, never a
traceback, and nothing ever reaches a shell."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import string
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core.config.load import ConfigError, parse_config
from console.core.config.schema import Config
from console.core.installation import validate_image_ref
from console.core.model import parse_color
from console.core.redact import Redactor, sanitize_log_line

REPO = Path(__file__).resolve().parents[2]
HOSTILE_PASSWORD = "hostile-pw"
# The example config, self-contained: no secrets file, literal (unreachable) URLs for the secrets.
EXAMPLE = re.sub(
    r"^secrets_file = .*$", "", (REPO / "config.example.toml").read_text(), flags=re.MULTILINE
)
EXAMPLE = EXAMPLE.replace('"${SLACK_WEBHOOK_URL}"', '""')
EXAMPLE = re.sub(r"\$\{[A-Z_]+\}", f"postgresql://u:{HOSTILE_PASSWORD}@127.0.0.1:9/db", EXAMPLE)

# ── config ──────────────────────────────────────────────────────────────────────────────────────


def _assert_parses_or_explains(text: str) -> None:
    try:
        config = parse_config(text, Path("/tmp/hostile.toml"))
    except ConfigError as exc:
        message = str(exc)
        assert (message and "\n" not in message.strip()) or "TOML" in message
        assert "Traceback" not in message
    else:
        assert isinstance(config, Config)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text_is_valid_config_or_a_config_error(text: str) -> None:
    _assert_parses_or_explains(text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_example_config_is_valid_or_a_config_error(data: st.DataObject) -> None:
    """Splice random text into a real config, line by line: nearer the valid region."""
    lines = EXAMPLE.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    junk = data.draw(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(['"', "[", "]]", "= 1", '= "${NOPE}"', "slots = 3", "[slots.red]"]),
        )
    )
    lines[index] = data.draw(st.sampled_from([junk, lines[index] + junk, junk + lines[index]]))
    _assert_parses_or_explains("\n".join(lines))


SCALARS = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["${HOME}", "${NOT_SET_ANYWHERE}", "a{99999999999}", "(", "/bin/sh", "."]),
)
KEYS = st.sampled_from(
    [
        "service", "state_dir", "secrets_file", "image", "source", "head", "candidate", "slots",
        "readiness", "proxy", "switch", "notify", "blue", "green", "red", "container",
        "host_port", "db_url", "command", "env", "kind", "mode", "policy", "log_pattern",
        "max_lag", "test_command", "restart_policy", "repository", "webhook_url", "",
    ]
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def dump_toml(document: dict[str, Any]) -> str:
    return "\n".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in document.items()) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_random_structures_dumped_to_toml_are_valid_or_a_config_error(doc: dict[str, Any]) -> None:
    _assert_parses_or_explains(dump_toml(doc))


@pytest.mark.parametrize(
    "fragment",
    [
        'log_pattern = "a{99999999999}"',  # re.compile raises OverflowError, not re.error
        'log_pattern = "(((("',
    ],
)
def test_hostile_log_patterns_are_config_errors(fragment: str) -> None:
    text = re.sub(r"^log_pattern = .*$", fragment, EXAMPLE, flags=re.MULTILINE)
    with pytest.raises(ConfigError, match="log_pattern"):
        parse_config(text, Path("x.toml"))


@pytest.mark.parametrize("secrets_file", ["/bin/sh", "/", "/nonexistent/secrets.env"])
def test_unreadable_or_binary_secrets_file_is_a_config_error(secrets_file: str) -> None:
    text = f'secrets_file = "{secrets_file}"\n' + EXAMPLE
    with pytest.raises(ConfigError, match="secrets_file"):
        parse_config(text, Path("x.toml"))


# ── image references and colours ────────────────────────────────────────────────────────────────

HOSTILE_REFS = [
    "",
    " ",
    "explorer:v1; rm -rf /",
    "$(reboot)",
    "`id`",
    "explorer:v1 && echo",
    "../../etc/passwd",
    "Explorer:v1",
    "explorer:" + "x" * 200,
    "explorer:v1\nrm",
    "explorer:v1\x00",
    "-v/:/host",
    "--privileged",
    "explorer@sha256:1234",
    "a" * 300,
]


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_hostile_image_refs_are_refused_with_a_sentence(ref: str) -> None:
    with pytest.raises(ValueError, match="not a valid image reference"):
        validate_image_ref(ref)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_any_accepted_image_ref_is_shell_and_flag_inert(ref: str) -> None:
    try:
        accepted = validate_image_ref(ref)
    except ValueError as exc:
        assert str(exc).endswith(".")
        return
    assert not set(accepted) & set(" \t\n;&|$`'\"<>(){}\\*?!\x00")
    assert not accepted.startswith("-")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_parse_color_accepts_only_blue_or_green(text: str) -> None:
    try:
        assert parse_color(text) in ("blue", "green")
    except ValueError as exc:
        assert "use 'blue' or 'green'" in str(exc)
    else:
        assert text.strip().lower() in ("blue", "green")


# ── the CLI, in-process ─────────────────────────────────────────────────────────────────────────

SAFE_COMMANDS = [
    "status",
    "deploy",
    "switch",
    "rollback",
    "history",
    "reconcile",
    "config",
    "proxy",
    "bogus",
    "",
]  # fmt: skip — never ui/watch (a TUI), agent (runs forever) or sandbox (real processes)
TOKENS = st.one_of(
    st.text(string.printable, max_size=12),
    st.text(max_size=12),
    st.sampled_from(
        ["--yes", "--force", "--json", "--wait", "--timeout", "-1", "nan", "1e309", "--env",
         "A=B", "=", "--switch", "auto", "check", "snippet", "--limit", "99999999999999999999",
         "v2", "explorer:v1", "$(id)", "--help", "-h", "--read-only", "\x00", "\udcff"]
    ),
)  # fmt: skip


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose every part is unreachable: nothing real can be touched."""
    text = EXAMPLE
    text = re.sub(r"^state_dir = .*$", f'state_dir = "{tmp_path / "state"}"', text, flags=re.M)
    text = re.sub(r"^admin_url = .*$", 'admin_url = "http://127.0.0.1:9"', text, flags=re.M)
    text = re.sub(r"^proxy_url = .*$", 'proxy_url = "http://127.0.0.1:9"', text, flags=re.M)
    text = re.sub(r"^include_dir = .*$", f'include_dir = "{tmp_path / "inc"}"', text, flags=re.M)
    text = re.sub(r'^container = "(.*)"', r'container = "hostile-\1"', text, flags=re.M)
    path = tmp_path / "bluegreen.toml"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BLUEGREEN_CONFIG", str(path))
    monkeypatch.setenv("BLUEGREEN_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nonexistent.sock")
    # An operation that fails must not leave an agent behind (deploy starts one otherwise).
    monkeypatch.setattr("console.core.service.ensure_agent", lambda inst: (False, None))
    return path


def _run_cli(argv: list[str]) -> tuple[int, str]:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue() + err.getvalue()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.booleans(),
    st.sampled_from(SAFE_COMMANDS) | st.text(string.ascii_letters, min_size=1, max_size=8),
    st.lists(TOKENS, max_size=5),
)
def test_random_cli_arguments_never_traceback(
    isolated_config: Path, read_only: bool, command: str, rest: list[str]
) -> None:
    if command in ("ui", "watch", "agent", "sandbox"):
        return
    argv = (["--read-only"] if read_only else []) + ([command] if command else ["status"]) + rest
    if any(token in ("ui", "watch", "agent", "sandbox") for token in argv[:1]):
        return
    code, output = _run_cli(argv)
    assert code in (0, 1, 2), (argv, code, output)
    assert "Traceback" not in output, (argv, output)
    assert HOSTILE_PASSWORD not in output, (argv, output)


def test_cli_errors_are_one_sentence_with_exit_2(isolated_config: Path) -> None:
    for argv in (["deploy", "explorer:v1; rm -rf /"], ["deploy", "v2", "--env", "NOPE"]):
        code, output = _run_cli(argv)
        assert code == 2, output
        assert output.startswith("✗") or output.startswith("bluegreen:"), output
        assert "Traceback" not in output
    code, output = _run_cli(["--config", "/bin/sh", "status"])
    assert code == 2 and ("not valid TOML" in output or "Cannot read" in output), output


# ── nothing reaches a shell ─────────────────────────────────────────────────────────────────────


def test_no_code_path_uses_a_shell() -> None:
    forbidden = re.compile(
        r"shell\s*=\s*True|os\.system\(|os\.popen\(|subprocess\.getoutput|getstatusoutput"
        r"|os\.exec[lv]p?e?\(\s*['\"]/bin/sh|pty\.spawn"
    )
    offenders = []
    for path in sorted((REPO / "console").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if forbidden.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


# ── hostile log lines ───────────────────────────────────────────────────────────────────────────

HOSTILE_LINES = [
    b"[bold red]not markup[/] [link=http://evil]x[/link]",
    b"\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
    b"\x1b[2J\x1b[H cleared screen \x1bc reset \x1b[?1049h alt screen",
    b"nul\x00byte bell\x07 backspace\x08 cr\r del\x7f",
    b"\xff\xfe invalid utf-8 \xc3\x28 \xed\xa0\x80",
    "bidi \u202eevil\u202c line\u2028sep".encode(),
    b"\x9b31m c1 csi \x9d osc \x9c",
    b"x" * 100_000,
    b"postgresql://user:s3cret-pw@db:5432/x password=s3cret-pw",
]


_UNSAFE = re.compile("[\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _assert_safe(line: str) -> None:
    """No control character, line/paragraph separator or bidi override; encodable to UTF-8
    (unassigned code points may remain: a terminal shows them as a box, harmlessly)."""
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in line), repr(line)
    assert not _UNSAFE.search(line), repr(line)
    line.encode("utf-8")
    assert len(line) <= 4100
    assert "s3cret-pw" not in line


@pytest.mark.parametrize("raw", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
def test_hostile_log_lines_are_sanitized(raw: bytes) -> None:
    line = sanitize_log_line(raw, Redactor(["s3cret-pw"]))
    _assert_safe(line)
    if raw.startswith(b"[bold"):
        assert line == raw.decode()  # markup is kept as literal text; the TUI renders it plain


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=500))
def test_any_bytes_sanitize_to_one_printable_bounded_line(raw: bytes | str) -> None:
    _assert_safe(sanitize_log_line(raw, Redactor(["s3cret-pw"])))


def test_hostile_text_round_trips_through_the_store(tmp_path: Path) -> None:
    from console.core.store.store import Store

    store = Store.open(tmp_path / "state", redact=Redactor(["s3cret-pw"]).redact)
    try:
        for raw in HOSTILE_LINES:
            text = sanitize_log_line(raw, None, max_chars=200_000)
            store.record_event("failure", f"last error: {text}", "error", "agent", "blue")
            store.record_event("raw", raw.decode("utf-8", "replace"), "error", "agent")
        events = store.events(limit=100)
        assert len(events) == 2 * len(HOSTILE_LINES)
        assert all("s3cret-pw" not in e.text for e in events)
        assert any(len(e.text) >= 100_000 for e in events)  # a 100 kB line is stored whole
    finally:
        store.close()
    assert b"s3cret-pw" not in b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
