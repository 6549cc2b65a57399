"""The progress kinds' extension point: a kind is one spec class, its row in `SPECS` and its row
in the drivers' `KINDS`; the loader, the config checks and the builders need no change for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from console.core.config import sources
from console.core.config.load import ConfigError, parse_config
from console.core.config.sources import SPECS, HeadSpec, NoSource
from console.core.contracts.progress import Reading
from console.drivers import progress
from console.drivers.progress import KINDS, make_candidate_source, make_head_source
from console.drivers.progress.base import BaseSource, Place
from tests.unit.test_config_sources import WEB


def test_every_kind_but_none_has_a_driver_and_every_driver_a_kind() -> None:
    assert set(KINDS) == {spec for spec in SPECS.values() if spec is not NoSource}
    assert all(spec.candidate_label for spec in KINDS)
    heads = [spec for spec in KINDS if issubclass(spec, HeadSpec)]
    assert [spec.kind for spec in heads] == ["sql", "http", "jsonrpc", "prometheus"]
    assert all(spec.head_label for spec in heads)


@dataclass(frozen=True)
class CounterSpec(HeadSpec):
    """A made-up kind, declared the way the recipe in config/sources.py says."""

    head_label: ClassVar[str] = "chain head counter"
    candidate_label: ClassVar[str] = "{color} counter"

    kind: Literal["counter"] = "counter"
    url: str = ""
    start: int = 0

    def address(self) -> str:
        return self.url

    def problems(self, key_path: str, per_colour: bool) -> list[str]:
        return [f"{key_path}.start must be 0 or more"] if self.start < 0 else []


class CounterProgress(BaseSource):
    def __init__(self, place: Place, spec: CounterSpec, url: str) -> None:
        super().__init__(place)
        self.url = url
        self.next = spec.start

    def read(self) -> Reading:
        self.next += 1
        return Reading(self.next)


@pytest.fixture
def counter_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two table rows, and nothing else."""
    monkeypatch.setitem(sources.SPECS, "counter", CounterSpec)
    monkeypatch.setitem(
        progress.KINDS, CounterSpec, lambda spec, place, url, _db: CounterProgress(place, spec, url)
    )


@pytest.mark.usefixtures("counter_kind")
def test_a_new_kind_is_one_spec_class_and_two_rows() -> None:
    config = parse_config(
        WEB + '[head]\nkind = "counter"\nstart = 100\n'
        '[candidate]\nkind = "counter"\nurl = "http://127.0.0.1:{host_port}/n"\n'
    )
    assert config.head == CounterSpec(start=100) and config.catchup
    head = make_head_source(config)
    green = make_candidate_source(config, "green")
    assert isinstance(head, CounterProgress) and head.label == "chain head counter"
    assert head.read() == Reading(101)
    assert isinstance(green, CounterProgress) and green.label == "green counter"
    assert green.url == "http://127.0.0.1:8082/n" and green.place.color == "green"


@pytest.mark.usefixtures("counter_kind")
def test_a_new_kind_gets_the_loaders_sentences_and_its_own_checks() -> None:
    with pytest.raises(ConfigError) as typo:
        parse_config(WEB + '[candidate]\nkind = "counter"\nstrat = 1\n')
    assert "Unknown key 'candidate.strat'. Did you mean 'start'?" in str(typo.value)
    assert 'Valid keys for kind = "counter": kind, start, url.' in str(typo.value)
    with pytest.raises(ConfigError) as negative:
        parse_config(WEB + '[candidate]\nkind = "counter"\nstart = -1\n[head]\nkind = "counter"\n')
    assert "candidate.start must be 0 or more" in str(negative.value)
    with pytest.raises(ConfigError) as unknown:
        parse_config(WEB + '[head]\nkind = "countr"\n')
    assert "Did you mean 'counter'?" in str(unknown.value)


def test_a_candidate_only_kind_says_so_in_head_and_nowhere_else() -> None:
    with pytest.raises(ConfigError) as head:
        parse_config(WEB + '[head]\nkind = "log"\n')
    assert str(head.value) == (
        "head.kind = 'log' is not allowed: use one of 'sql', 'http', 'jsonrpc', 'prometheus'. "
        "('log' reads a colour's container: [candidate] only)"
    )
    with pytest.raises(ConfigError) as parity:
        parse_config(WEB + '[candidate]\nkind = "sql"\n[[parity]]\nkind = "log"\nname = "a"\n')
    assert str(parity.value) == "parity[0].kind = 'log' is not allowed: use one of 'sql', 'http'."


def test_parity_names_the_kinds_that_can_be_asked() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            WEB + '[candidate]\nkind = "log"\npattern = "h (\\\\d+)"\n'
            '[head]\nkind = "http"\nurl = "http://h/s"\nfield = "a"\n'
            '[[parity]]\nkind = "http"\nname = "n"\nurl = "http://x/{height}"\n'
        )
    assert (
        '[[parity]] reads each colour\'s height on demand, which a [candidate] kind = "log" '
        "cannot give: use a source that can be asked (sql, http, jsonrpc, prometheus)"
    ) in str(caught.value)
