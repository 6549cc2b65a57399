"""Bounded waits for the parts bluegreen talks to, named in one place.

Each figure is chosen for its part: long enough for a loaded host, short enough that an operator
learns within seconds which part is not answering. (The proxy's are here so far; the other parts'
join them.)
"""

from __future__ import annotations

# One request to the proxy's admin endpoint (nginx's Lua location, HAProxy's runtime API): set or
# read the live colour. A healthy proxy answers in about a millisecond.
PROXY_ADMIN_SECONDS = 2.0
# One read-back of where the proxy routes after an error, and the per-tick read.
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
