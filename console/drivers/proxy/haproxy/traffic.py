"""HAProxy's per-colour traffic figures, from `show stat <backend> 4 -1` on the admin socket.

HAProxy already counts per server, so nothing is added to its configuration: the `blue` and
`green` servers' rows give monotonic counters of answers by status class (`hrsp_*`), the open
sessions (`scur`, websockets included: HAProxy cannot tell them apart) and two latency figures —
`rtime`, the mean response time over the server's last 1024 requests, and `rtime_max`, the longest
one since HAProxy started. It keeps no latency distribution, so there is no p50 or p99 here, and
the figures say so rather than guess one.
"""

from __future__ import annotations

import contextlib
import csv
import io

from console.core.measures.traffic import ColourCounters
from console.core.model import COLORS, Color

STAT_COMMAND = "show stat {backend} 4 -1"  # type 4 = servers only; -1 = every server
NO_PERCENTILES_NOTE = "p99 not available from HAProxy"
_STATUS_COLUMNS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")


def parse_show_stat(text: str, backend: str) -> dict[Color, ColourCounters]:
    """The CSV answer of `show stat` → counters of the backend's `blue` and `green` servers.

    A server missing from the answer is left out (the caller says the backend lacks it); a
    column missing from an older HAProxy reads as 0 or, for a figure, as unknown."""
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if header is None:
        return {}
    body = "\n".join([lines[header][2:], *lines[header + 1 :]])
    out: dict[Color, ColourCounters] = {}
    for row in csv.DictReader(io.StringIO(body)):
        if row.get("pxname") != backend:
            continue
        color = row.get("svname")
        if color not in COLORS:
            continue
        answers = {name: _int(row.get(name)) for name in _STATUS_COLUMNS}
        out["blue" if color == "blue" else "green"] = ColourCounters(
            requests=sum(answers.values()),
            status_2xx=answers["hrsp_2xx"],
            status_3xx=answers["hrsp_3xx"],
            status_4xx=answers["hrsp_4xx"],
            status_5xx=answers["hrsp_5xx"],
            open_requests=_int(row.get("scur")),
            websockets=None,  # a websocket is one more session in `scur`, not told apart
            recent_mean_ms=_float(row.get("rtime")),
            max_ms=_float(row.get("rtime_max")),
        )
    return out


def _int(value: str | None) -> int:
    with contextlib.suppress(TypeError, ValueError):
        return max(0, int(value or 0))
    return 0


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    return None
