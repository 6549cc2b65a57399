"""`[store]`: where the console's record lives — SQLite in the state directory (the default, one
host), or a PostgreSQL database shared by every host that operates or watches the service.

A URL holds a password, so it is written as a secret reference (`url = "${STORE_URL}"`) and is
redacted everywhere like every database URL. Watchers (read-only users) cannot read the operators'
secrets; they connect with `watch_url`, a role that may only read, from a secret of their own.
Each service keeps its tables in its own PostgreSQL schema (`bluegreen_<service>` unless named),
so one database serves a whole fleet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_UNRESOLVED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


@dataclass(frozen=True)
class StoreConfig:
    # "" = SQLite in state_dir. "postgresql://USER:PASSWORD@HOST:PORT/DB" (as a ${SECRET}): the
    # store, the operator lock and the agent lease in that database, shared by every host.
    url: str = ""
    # The URL read-only users connect with (a role granted SELECT only); "" = they need `url`.
    watch_url: str = ""
    # The PostgreSQL schema of this service's tables; "" = bluegreen_<service>.
    schema: str = ""

    @property
    def shared(self) -> bool:
        """True when the record lives in PostgreSQL rather than this host's state directory."""
        return bool(self.url or self.watch_url)

    def schema_for(self, service: str) -> str:
        return self.schema or "bluegreen_" + re.sub(r"[^a-z0-9_]", "_", service.lower())[:52]

    def url_for(self, watching: bool) -> str:
        """The URL this user connects with; "" when the one they need is not resolved (a watcher
        without `watch_url`, or a secret that is not set for them)."""
        for url in (self.watch_url, self.url) if watching else (self.url,):
            if url and not _UNRESOLVED.search(url):
                return url
        return ""


def store_problems(store: StoreConfig, service: str) -> list[str]:
    """`[store]` checks, as phrases (never quoting a URL: it holds a password)."""
    problems: list[str] = []
    for key, url in (("url", store.url), ("watch_url", store.watch_url)):
        if (
            url
            and not _UNRESOLVED.search(url)
            and not url.startswith(("postgresql://", "postgres://"))
        ):
            problems.append(
                f"store.{key} is not a PostgreSQL URL: write postgresql://USER:PASSWORD@HOST/DB "
                'as a secret (store.url = "${STORE_URL}"), or leave [store] out for SQLite'
            )
    if store.watch_url and not store.url:
        problems.append("store.watch_url is set without store.url: operators need store.url")
    if not _SCHEMA_NAME.match(store.schema_for(service)):
        problems.append(
            f"store.schema '{store.schema}' is not a PostgreSQL schema name: lower-case letters, "
            "digits and _, starting with a letter or _"
        )
    return problems
