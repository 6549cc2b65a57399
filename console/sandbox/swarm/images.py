"""Images onto every node: `docker save` once from the engine that has them (the host's, where
the sandbox builds the stand-ins), then `docker load` into every node at once.

Chosen over Debian's docker-registry as a local registry because it is faster for the stand-ins
(measured here: ~2 s for all of them per node, loads side by side, against a 7 s first push then
3-4 s pulls) and because the images keep their names: a registry would make every service name
`GATEWAY:5000/bluegreen/webapp:v1` and need `--insecure-registry` on each engine. Nodes without
a registry reference the images by the names the host has; Swarm warns it cannot resolve a
digest, so services are created with `--no-resolve-image` (the SDK's `resolve_image=False`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from console.sandbox.swarm.links import BedError
from console.sandbox.swarm.spec import SwarmNode

LOAD_TIMEOUT_SECONDS = 300
BUILD_FIRST = " Build them on the host's engine first (`bluegreen sandbox up` does), then retry."


def move_images(
    nodes: Sequence[SwarmNode],
    refs: Sequence[str],
    scratch: Path,
    source_host: str = "",
    say: Callable[[str], None] = print,
) -> float:
    """Copy images `refs` from `source_host` ("" = $DOCKER_HOST, then the local engine) to every
    node; return the seconds it took."""
    if not refs:
        return 0.0
    started = time.monotonic()
    tar = scratch / "images.tar"
    source = ["-H", source_host] if source_host else []
    try:
        _docker([*source, "save", "-o", str(tar), *refs], "", BUILD_FIRST)
        with ThreadPoolExecutor(len(nodes)) as pool:
            loads = [
                pool.submit(
                    _docker, ["-H", n.docker_host, "load", "-q", "-i", str(tar)], n.name, ""
                )
                for n in nodes
            ]
        for load in loads:
            load.result()
    finally:
        tar.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    say(f"Images on every node ({', '.join(refs)}): {seconds:.1f} s.")
    return seconds


def _docker(args: list[str], node: str, hint: str) -> None:
    what = f"loading them into node {node}" if node else "saving them from the host's engine"
    try:
        done = subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BedError(f"Could not move the images ({what}): {exc}.") from exc
    if done.returncode != 0:
        raise BedError(f"Could not move the images ({what}): {done.stderr.strip()}.{hint}")
