"""How each deployment's image reached the host: pulled (from which registry, with whose
credentials, how long, how big), loaded from a tar, or already present.

Like `resources.py`, a row per deployment in the store's `state` table (key `pull:<id>`, a JSON
value), so no schema migration; and the pull's start and end join the deployment's `phases`
(`pulling`, `pulled`; `loading`, `loaded` from a tar), so `history --json` shows the pull on
the deployment's own timeline.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from console.core.contracts.runtime import ImageArrival
from console.core.store.tables import UPSERT_STATE

if TYPE_CHECKING:
    from console.core.store.store import Store

_KEY = "pull:"


def record_image_arrival(store: Store, deployment_id: int, arrival: ImageArrival) -> None:
    """Remember how `deployment_id`'s image arrived; a pull or load also enters its phases."""
    ended = arrival.finished_at or time.time()
    with store._db.write() as conn:
        conn.execute(UPSERT_STATE, (f"{_KEY}{deployment_id}", json.dumps(asdict(arrival))))
        if arrival.how == "present":
            return
        row = conn.execute(
            "SELECT phases FROM deployments WHERE id = ?", (deployment_id,)
        ).fetchone()
        if row is None:
            return
        phases = json.loads(row["phases"])
        # Before `created`: the deployment is recorded only once its image is here.
        started = "pulling" if arrival.how == "pulled" else "loading"
        merged = {started: ended - arrival.seconds, arrival.how: ended, **phases}
        conn.execute(
            "UPDATE deployments SET phases = ? WHERE id = ?", (json.dumps(merged), deployment_id)
        )


def image_arrivals(store: Store, ids: list[int]) -> dict[int, ImageArrival]:
    """The recorded arrivals of these deployments (those with none are absent)."""
    if not ids:
        return {}
    found: dict[int, ImageArrival] = {}
    for key, value in store._state_values(*(f"{_KEY}{i}" for i in ids)).items():
        try:
            found[int(key[len(_KEY) :])] = ImageArrival(**json.loads(value))
        except (ValueError, TypeError):
            continue  # a row this version cannot read is skipped, never fatal
    return found


def arrival_json(arrival: ImageArrival | None) -> dict[str, Any] | None:
    """`history --json`'s `pull` of a deployment."""
    if arrival is None:
        return None
    return {
        "how": arrival.how,
        "registry": arrival.registry or None,
        "credentials": arrival.credentials or None,
        "seconds": round(arrival.seconds, 3),
        "size_bytes": arrival.size_bytes,
    }
