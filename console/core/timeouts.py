"""Every bound on a call to another part, named in one place.

A part that hangs (a Docker daemon stuck on a busy disk, nginx workers blocked, a SIGSTOPped
database) must cost the caller at most its bound, and the caller must then say which part did not
answer. Each bound is chosen for its part: what a healthy part on a loaded 2-core host answers well
within, and what an operator at a prompt can wait for.

The webhook's bound is the operator's `notify.timeout_seconds`; the proxy's verification window is
`proxy.verify_timeout_seconds`; a container's stop grace is its `stop_timeout`. Those are settings
of the installation; everything else is here.
"""

from __future__ import annotations

# ── Docker Engine API (the agent and the CLI) ──
# Reads (inspect, list, logs, ping): a healthy engine answers in milliseconds.
DOCKER_READ_SECONDS = 5.0
# Changes (create, start, remove, exec): network set-up on a loaded host can take seconds.
DOCKER_CHANGE_SECONDS = 30.0
# Loading or pulling an image: an archive of hundreds of MB takes minutes.
DOCKER_IMAGE_SECONDS = 600.0

# ── the proxy ──
# One request to the proxy's admin endpoint (nginx's Lua location, HAProxy's runtime API): set or
# read the live colour. A healthy proxy answers in about a millisecond.
PROXY_ADMIN_SECONDS = 2.0
# One read-back of where the proxy routes after an error, and the agent's per-tick read.
PROXY_READ_BACK_SECONDS = 1.0
# A switch whose outcome is unknown (the proxy stopped answering mid-switch) keeps the operator
# lock and reads back this long before it gives up, records "unknown" and reconciles.
PROXY_SETTLE_SECONDS = 30.0
# Pause between read-backs while the proxy does not answer.
PROXY_READ_BACK_INTERVAL_SECONDS = 0.25
# The operator's `nginx -t` / reload commands.
PROXY_COMMAND_SECONDS = 30.0
# After a reload: how long until the new workers answer on the admin endpoint.
PROXY_RELOAD_SETTLE_SECONDS = 5.0

# ── checks and progress sources ──
# A colour's health and smoke requests.
HTTP_CHECK_SECONDS = 2.0
# A height read from an HTTP JSON endpoint (the chain head, an indexer's status).
HEIGHT_HTTP_SECONDS = 3.0
# Opening a PostgreSQL connection (TCP, TLS, authentication).
SQL_CONNECT_SECONDS = 3
# Beyond `statement_timeout`, which a stalled server never enforces: the client gives up on the
# socket this long after the statement timeout would have fired.
SQL_SOCKET_MARGIN_SECONDS = 1.0


def sql_socket_seconds(statement_timeout_ms: int) -> float:
    """The client-side bound of one query: the server's statement timeout plus a margin."""
    return statement_timeout_ms / 1000.0 + SQL_SOCKET_MARGIN_SECONDS


def seconds_text(value: float) -> str:
    """`5.0` → `5`, `2.5` → `2.5`: bounds as the sentences print them."""
    return f"{value:g}"


# ── hooks ([[hooks]], console/core/hooks/) ──
# A host hook at its timeout gets SIGTERM (its whole process group), then SIGKILL this much later.
HOOK_KILL_GRACE_SECONDS = 5.0
