"""HAProxy's own count of sessions per colour (issue 26.1), the pure parts: the rules that note a
session under the colour that served it, the per-colour tables, and `show table` read back. The
count through a real HAProxy: tests/integration/test_sessions_proxies.py."""

from __future__ import annotations

from pathlib import Path

from console.drivers.proxy.haproxy.sessions import parse_show_table, seen_tables, session_rules

MAP = Path("/etc/bg/sessions.map")
SHOW_TABLE = (
    "# table: web_sessions_blue, type: integer, size:100000, used:3\n"
    "# table: web_sessions_green, type: integer, size:100000, used:12\n"
    "# table: other_sessions_blue, type: integer, size:100000, used:99\n"
)


def test_each_session_is_noted_under_the_colour_that_served_it() -> None:
    rules = session_rules("deployment", MAP, "sid", "web")
    assert "req.cook(sid),crc32" in rules  # the session id is never kept in clear
    for color in ("blue", "green"):
        assert (
            f"http-response track-sc2 var(txn.bg_sid) table web_sessions_{color} "
            f"if {{ var(txn.bg_sid) -m found }} {{ srv_name -m str {color} }}"
        ) in rules
    assert "track-sc2" not in session_rules("deployment", MAP)  # the application counts


def test_the_tables_expire_after_the_window() -> None:
    tables = seen_tables("web", 300)
    assert "backend web_sessions_blue\n" in tables and "backend web_sessions_green\n" in tables
    assert tables.count("stick-table type integer size 100000 expire 300s") == 2
    assert "expire 1s" in seen_tables("web", 0.2)  # HAProxy's smallest useful expiry


def test_show_table_reads_each_colour_of_its_own_backend() -> None:
    assert parse_show_table(SHOW_TABLE, "web") == {"blue": 3, "green": 12}
    assert parse_show_table(SHOW_TABLE, "shop") is None  # its tables are not loaded
    assert parse_show_table("", "web") is None
