"""The check `image.reset_database` needs: no colour's database may be another's or the source's.

A reset empties every schema of a colour's database (console/core/ops/db_reset.py); if that
database is also the other colour's, or the chain's source, the reset would empty that too. URLs
are compared by (host, port, database name), never shown: they are secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg.conninfo import conninfo_to_dict

if TYPE_CHECKING:
    from console.core.config.schema import Config


def database_identity(url: str) -> tuple[str, str, str] | None:
    """(host, port, dbname) of a PostgreSQL URL or conninfo string, or None if it is not one.
    Compared, never shown: the URLs are secrets."""
    if not url:
        return None
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return None
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    if host in ("127.0.0.1", "::1") or host.startswith("/"):
        host = "localhost"  # one server either way; a socket dir names the local one too
    dbname = str(parts.get("dbname") or parts.get("user") or "")
    return host, str(parts.get("port") or "5432"), dbname


def shared_database_problem(color: str, urls: dict[str, list[str]]) -> str | None:
    """Why resetting `color`'s database would empty another's too, or None. `urls` maps each
    role ("blue", "green", "the source") to the URLs naming its database (as seen by the
    containers and by this host)."""
    mine = {i for url in urls.get(color, []) if (i := database_identity(url))}
    for other_role, other_urls in urls.items():
        if other_role == color:
            continue
        if any(database_identity(url) in mine for url in other_urls):
            return (
                f"{color}'s database is also {other_role}'s (same host, port and database "
                f"name): image.reset_database would empty both. Give each colour a database "
                "of its own."
            )
    return None


def database_urls(config: Config) -> dict[str, list[str]]:
    """Each database a reset must tell apart: both colours' and the source's (and the head's, if it
    queries one of its own)."""
    urls = {color: [slot.db_url, slot.host_db_url] for color, slot in config.slots.items()}
    source = [config.source.db_url, config.source.host_db_url]
    if config.head is not None and config.head.queries_database and config.head.address():
        source.append(config.head.address())
    urls["the source"] = source
    return urls


def reset_guard_problems(config: Config) -> list[str]:
    """config check: with image.reset_database, no colour's database may be another's."""
    if not config.image.reset_database:
        return []
    urls = database_urls(config)
    problems = [shared_database_problem(color, urls) for color in config.slots]
    return list(dict.fromkeys(p for p in problems if p))  # blue's and green's say it once each
