"""The runtime's pure helpers: restart-policy parsing and Docker timestamps (no engine needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.drivers.docker.model import (
    ON_FAILURE_DEFAULT_RETRIES,
    parse_docker_time,
    restart_policy,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unless-stopped", {"Name": "unless-stopped"}),
        ("always", {"Name": "always"}),
        ("no", {"Name": "no"}),
        ("on-failure:3", {"Name": "on-failure", "MaximumRetryCount": 3}),
        (
            "on-failure",
            {"Name": "on-failure", "MaximumRetryCount": ON_FAILURE_DEFAULT_RETRIES},
        ),
    ],
)
def test_restart_policy(text: str, expected: dict[str, object]) -> None:
    assert restart_policy(text) == expected


@pytest.mark.parametrize("text", ["sometimes", "on-failure:x", "always:3", "on-failure:-1"])
def test_bad_restart_policy_is_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="is not one of no, always, unless-stopped"):
        restart_policy(text)


def test_docker_time_with_nanoseconds() -> None:
    expected = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC).timestamp()
    assert parse_docker_time("2024-05-01T12:00:00.123456789Z") == expected


def test_docker_time_with_offset_and_no_fraction() -> None:
    expected = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC).timestamp()
    assert parse_docker_time("2024-05-01T12:00:00+02:00") == expected
    assert parse_docker_time("2024-05-01T12:00:00.5+02:00") == expected + 0.5


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "", None, "garbage", 17])
def test_zero_or_bad_docker_time_is_none(value: object) -> None:
    assert parse_docker_time(value) is None
