"""What deploy says about its image's arrival, and what it records when a registry refuses it.

The pull itself is the runtime's (console/drivers/docker/registry.py); its figures are stored per
deployment by console/core/store/image_pull.py.
"""

from __future__ import annotations

from console.core.contracts.runtime import ImageArrival, RegistryRefused
from console.core.installation import Installation
from console.core.measures.resources import size_text
from console.core.model import Actor, Color


def arrival_text(ref: str, arrival: ImageArrival) -> str:
    """'Image r:v1 pulled from HOST (secrets) in 2.3 s, 45.1 MiB (sha256:…).'"""
    size = f", {size_text(arrival.size_bytes)}" if arrival.size_bytes is not None else ""
    short_id = arrival.id[:19]
    if arrival.how == "pulled":
        return (
            f"Image {ref} pulled from {arrival.registry} (credentials: {arrival.credentials}) "
            f"in {arrival.seconds:.1f} s{size} ({short_id})."
        )
    if arrival.how == "loaded":
        return f"Image {ref} loaded in {arrival.seconds:.1f} s{size} ({short_id})."
    return f"Image {ref} present{size} ({short_id})."


def refused_pull(inst: Installation, exc: RegistryRefused, actor: Actor, color: Color) -> str:
    """Record and notify a pull the registry turned away; the sentence (which names the registry
    and what to do, never a password) is the outcome. Nothing else changed."""
    text = f"Deploy refused: {exc}"
    inst.store.record_event("failure", text, "error", str(actor), color, None)
    inst.notifier.send("failure", f"{inst.config.service}: {text}", "error")
    return text
