"""Image retention on the Docker Engine, mixed into DockerRuntime: list a repository's tags, the
images running containers use, and remove a tag (never forced).

Removing a tag that other tags share only untags it; the engine deletes an image (and its
layers no other image needs) once its last tag goes. A container using the image makes the engine
refuse (409): that is ImageInUse, never a forced removal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors

from console.core.contracts.runtime import ContainerFailed, ImageInfo, ImageInUse


class ImagesMixin:
    """Needs the runtime's bounded `_call`, `_explain` and `change_timeout` (see DockerRuntime)."""

    _call: Callable[..., Any]
    _explain: Callable[[docker.errors.DockerException], str]
    change_timeout: float

    def list_images(self, repository: str) -> list[ImageInfo]:
        """Every tag of `repository` here, newest image first (ties by tag, for a stable list)."""
        found = self._call(lambda client: client.api.images(name=repository))
        prefix = f"{repository}:"
        infos = [
            ImageInfo(
                ref=tag,
                id=str(image.get("Id", "")),
                created=self._created(str(image.get("Id", "")), image.get("Created")),
                size=int(image.get("Size") or 0),
                tags=len(image.get("RepoTags") or []),
            )
            for image in found or []
            for tag in image.get("RepoTags") or []
            if tag.startswith(prefix) and ":" not in tag[len(prefix) :]
        ]
        return sorted(infos, key=lambda info: (-info.created, info.ref))

    def _created(self, image_id: str, listed: Any) -> float:
        """When the image was built, to the nanosecond the engine keeps (inspect): the list
        gives whole seconds, and a CI builds several versions within one."""
        try:
            stamp = str(self._call(lambda client: client.api.inspect_image(image_id))["Created"])
        except (docker.errors.APIError, KeyError):
            return float(listed or 0)  # ImageNotFound (removed meanwhile) is an APIError
        return _epoch(stamp, float(listed or 0))

    def image_ids_in_use(self) -> set[str]:
        """The image ids of every running container (one list call, any owner)."""
        running = self._call(lambda client: client.api.containers(filters={"status": "running"}))
        return {str(container.get("ImageID", "")) for container in running or []} - {""}

    def remove_image(self, ref: str) -> None:
        """Untag `ref` (deleting the image once no tag is left). Absent is fine; a container
        that uses it is ImageInUse; any other refusal ContainerFailed — each one sentence."""
        try:
            self._call(
                lambda client: client.api.remove_image(ref, force=False), self.change_timeout
            )
        except docker.errors.ImageNotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise ImageInUse(
                    f"Image {ref} is used by a container ({self._explain(exc)}); it was kept."
                ) from None
            raise ContainerFailed(
                f"Image {ref} could not be removed: {self._explain(exc)}."
            ) from None


def _epoch(stamp: str, fallback: float) -> float:
    """RFC 3339 with up to nanoseconds ('2026-12-06T19:23:41.123456789Z') → epoch seconds."""
    whole, _, rest = stamp.rstrip("Z").partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())
    try:
        moment = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    except ValueError:
        return fallback
    return moment.timestamp() + (int(digits) / 10 ** len(digits) if digits else 0.0)
