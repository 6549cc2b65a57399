"""`[sessions.source]`: each colour's count of open sessions, read like a progress height.

Any progress kind fits (an HTTP JSON field such as the seed's `GET /api/deployment/active-sessions`,
a Prometheus gauge, an SQL count): the "height" it reads is the number of sessions. The URL is a
template filled in per colour, as a candidate's is.
"""

from __future__ import annotations

from console.core.config.schema import Config
from console.core.config.sources import fill_url
from console.core.contracts.progress import ProgressSource
from console.core.model import Color
from console.drivers.progress import KINDS
from console.drivers.progress.base import Place


def make_sessions_source(config: Config, color: Color) -> ProgressSource | None:
    """A colour's sessions count, or None without `[sessions.source]`."""
    sessions = config.sessions
    if not sessions.enabled or not sessions.counted:
        return None
    spec = sessions.source
    slot = config.slot(color)
    place = Place("sessions.source", f"{color} sessions count", color)
    url = fill_url(spec.address(), slot.host_port, color, slot.container)
    return KINDS[type(spec)](spec, place, url, slot.sampling_db_url)
