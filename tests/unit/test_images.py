"""Pure parts of sandbox image handling: the gateway lookup and the missing-prerequisite message."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from console.sandbox import images


def test_gateway_prefers_the_reported_gateway() -> None:
    attrs = {"IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.254"}]}}
    assert images.gateway_from_attrs(attrs) == "172.18.0.254"


def test_gateway_falls_back_to_the_first_host_of_the_subnet() -> None:
    # The default bridge often reports only its subnet.
    attrs = {"IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "172.17.0.0/16"}]}}
    assert images.gateway_from_attrs(attrs) == "172.17.0.1"


def test_gateway_of_a_network_without_ipv4_is_none() -> None:
    assert images.gateway_from_attrs({"IPAM": {"Config": None}}) is None
    assert images.gateway_from_attrs({"IPAM": {"Config": [{"Subnet": "fd00::/64"}]}}) is None


def test_standin_ref() -> None:
    assert images.standin_ref("v1") == "bluegreen/standin:v1"
    assert images.STANDIN_REPOSITORY == "bluegreen/standin"


def test_missing_base_image_without_root_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_client: Any = object()
    monkeypatch.setattr(images, "_client", lambda _=None: fake_client)
    monkeypatch.setattr(images, "image_exists", lambda client, ref: False)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(images.ImageBuildError, match="needs root and debootstrap") as caught:
        images.ensure_base_image(cache_dir=tmp_path)
    assert "apt-get install debootstrap" in str(caught.value)
    assert not any(tmp_path.iterdir()), "nothing is left behind when the build cannot start"


def test_existing_base_image_is_returned_without_building(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_client: Any = object()
    monkeypatch.setattr(images, "_client", lambda _=None: fake_client)
    monkeypatch.setattr(images, "image_exists", lambda client, ref: ref == images.BASE_IMAGE)
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("must not build"))
    assert images.ensure_base_image() == "bluegreen-base:bookworm"


def test_callers_at_once_build_the_base_image_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Two test workers (or two `sandbox up`) that both find the image missing: the build lock
    # makes the second wait and find it built, instead of debootstrapping a second copy.
    built: list[str] = []
    started = threading.Event()

    def slow_build(client: Any, debootstrap: str, cache_dir: Path) -> None:
        started.set()
        time.sleep(0.3)  # long enough for the other caller to arrive and wait
        built.append("base")

    monkeypatch.setattr(images, "_client", lambda _=None: object())
    monkeypatch.setattr(images, "image_exists", lambda client, ref: bool(built))
    monkeypatch.setattr(images, "_debootstrap_and_import", slow_build)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: "/usr/sbin/debootstrap")
    said: list[str] = []
    callers = [
        threading.Thread(
            target=lambda: images.ensure_base_image(cache_dir=tmp_path, say=said.append)
        )
        for _ in range(3)
    ]
    callers[0].start()
    assert started.wait(5)
    for caller in callers[1:]:
        caller.start()
    for caller in callers:
        caller.join(10)
    assert built == ["base"]
    assert said[0].startswith("Building bluegreen-base:bookworm") and len(said) == 2
