"""Client traffic that remembers every answer: when, which status, which colour served it.

`hey` only gives totals; the analysis benchmark and its integration tests need the timeline — the
first bad answer, the first answer from the old colour again, and what failed in between. A few
threads, each with its own keep-alive httpx client, send a steady mix of POSTs (a GraphQL-like
JSON body) and GETs through the proxy and append (at, status, colour) per request; a socket error
is status 0.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

COLOR_HEADER = "X-Bluegreen-Color"
BODY = b'{"query":"{ status { height } }"}'


@dataclass(frozen=True, slots=True)
class Answer:
    at: float  # wall clock when the answer arrived
    status: int  # HTTP status; 0 = no answer (socket error, timeout)
    color: str | None  # the colour that answered, from the proxy's header

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


@dataclass
class RequestLog:
    """Steady load against `url` until stopped; `rate` requests/s in total, a share of POSTs."""

    url: str
    rate: float = 100.0
    threads: int = 4
    post_share: float = 1.0
    timeout: float = 5.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> RequestLog:
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 1)

    def _run(self, index: int) -> None:
        interval = self.threads / self.rate
        sent = 0
        next_at = time.monotonic() + index * interval / self.threads
        with httpx.Client(trust_env=False, timeout=self.timeout) as client:
            while not self._stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                next_at += interval
                # POSTs and GETs interleaved by a fixed pattern: the share holds in any stretch.
                post = int((sent + 1) * self.post_share) > int(sent * self.post_share)
                sent += 1
                try:
                    if post:
                        response = client.post(
                            self.url, content=BODY, headers={"Content-Type": "application/json"}
                        )
                    else:
                        response = client.get(self.url)
                    answer = Answer(
                        time.time(), response.status_code, response.headers.get(COLOR_HEADER)
                    )
                except httpx.HTTPError:
                    answer = Answer(time.time(), 0, None)
                with self._lock:
                    self.answers.append(answer)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return sorted(self.answers, key=lambda a: a.at)


@dataclass(frozen=True, slots=True)
class Recovery:
    """From the first failed answer of the bad colour to the first answer of the old one."""

    first_bad_at: float | None
    back_at: float | None  # first answer from `old` after the first bad one
    # Failed answers from the first bad one until traffic was back, and those the bad colour
    # still gave after (requests in flight on it when the proxy switched back).
    failed_meanwhile: int
    answered_meanwhile: int
    failed_after: int  # failed answers from any other colour once traffic was back (0 expected)

    @property
    def seconds(self) -> float | None:
        if self.first_bad_at is None or self.back_at is None:
            return None
        return self.back_at - self.first_bad_at


def recovery(answers: list[Answer], bad: str, old: str, since: float = 0.0) -> Recovery:
    timeline = [a for a in answers if a.at >= since]
    first_bad = next((a for a in timeline if a.failed and a.color in (bad, None)), None)
    if first_bad is None:
        return Recovery(None, None, 0, 0, 0)
    back = next((a for a in timeline if a.at > first_bad.at and a.color == old), None)
    until = back.at if back is not None else float("inf")
    between = [a for a in timeline if first_bad.at <= a.at < until]
    late = [a for a in timeline if a.at >= until and a.color == bad]
    after = [a for a in timeline if a.at >= until and a.color != bad]
    return Recovery(
        first_bad.at,
        back.at if back else None,
        sum(1 for a in between + late if a.failed),
        len(between),
        sum(1 for a in after if a.failed),
    )
