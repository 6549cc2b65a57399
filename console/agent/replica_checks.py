"""A colour's HTTP checks on every replica, for a runtime that runs several (Swarm).

Each running task is checked where it answers (NODE_ADDRESS:PORT, host-mode published port): the
health path, the extra readiness checks and the smoke request, each as for a single container. A
check URL written for this host (`http://127.0.0.1:{host_port}/…`) is asked of each task's own
address instead. The colour passes only when every replica the scheduler wants runs and each
passes: `counted()` compares the round's tasks with the tasks that count now, so a task never
counts twice, a task on a dead node never counts, and a task that appeared since the round (one
rescheduled elsewhere) must pass its own checks first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from console.core.config.schema import ReadinessConfig
from console.core.config.sources import at_endpoint
from console.core.contracts.runtime import ReplicaSet, TaskInfo
from console.core.replicas import ReplicaStatus, TaskStatus, outages_by_node
from console.drivers.checks import HttpChecker

if TYPE_CHECKING:
    from console.agent.slot_checks import CheckResults


@dataclass(frozen=True, slots=True)
class ReplicaCheck:
    """One task's round: all of its checks together."""

    task_id: str
    node: str
    ok: bool
    detail: str  # the first failing check's detail, or its health's


@dataclass(frozen=True, slots=True)
class RoundResults:
    """One round over every replica: each task's, and the colour's (every replica must pass)."""

    checked: tuple[ReplicaCheck, ...]
    health_ok: bool
    health_detail: str
    checks: tuple[tuple[bool, str], ...]
    smoke_ok: bool | None
    smoke_detail: str


class ReplicaRound:
    """Runs the checks of one round against each counting task; one checker per endpoint, kept
    while the endpoint is (kept-alive connections), dropped when its task goes."""

    def __init__(self, readiness: ReadinessConfig, check_urls: list[tuple[str, int]]) -> None:
        self.readiness = readiness
        self.check_urls = check_urls
        self._checkers: dict[str, HttpChecker] = {}

    def run(self, replicas: ReplicaSet) -> RoundResults:
        """Every counting task's checks, and what they add up to for the colour."""
        tasks = [task for task in replicas.counting if task.endpoint]
        for gone in set(self._checkers) - {task.endpoint for task in tasks}:
            self._checkers.pop(gone).close()
        rounds = [self._check(task) for task in tasks]
        done = tuple(result for result, _ in rounds)
        answers = [answer for _, answer in rounds]
        if not answers:
            detail = "no replica running"
            none = tuple((False, detail) for _ in self.check_urls)
            return RoundResults(done, False, detail, none, None, detail)
        failing = [r for r in done if not r.ok]
        health_ok = not failing
        health_detail = (
            f"{len(done)} replicas answer"
            if health_ok
            else "; ".join(f"replica on {r.node}: {r.detail}" for r in failing)
        )
        checks = tuple(
            (all(a[1][i][0] for a in answers), _first_failure([a[1][i] for a in answers]))
            for i in range(len(self.check_urls))
        )
        smoke_ok: bool | None = None
        smoke_detail = ""
        if self.readiness.smoke_path:
            smokes = [a[2] for a in answers]
            smoke_ok = all(ok for ok, _ in smokes)
            smoke_detail = _first_failure(smokes)
        return RoundResults(done, health_ok, health_detail, checks, smoke_ok, smoke_detail)

    def _check(
        self, task: TaskInfo
    ) -> tuple[ReplicaCheck, tuple[tuple[bool, str], list[tuple[bool, str]], tuple[bool, str]]]:
        checker = self._checkers.get(task.endpoint)
        if checker is None:
            checker = self._checkers[task.endpoint] = HttpChecker(f"http://{task.endpoint}")
        readiness = self.readiness
        health = checker.health(readiness.health_path, readiness.health_expect)
        checks = [
            checker.check(at_endpoint(url, task.endpoint), status)
            for url, status in self.check_urls
        ]
        smoke = (True, "")
        if readiness.smoke_path:
            smoke = checker.smoke(
                readiness.smoke_method, readiness.smoke_path, readiness.smoke_body
            )
        failed = [answer for answer in (health, *checks, smoke) if not answer[0]]
        ok = not failed
        result = ReplicaCheck(task.id, task.node, ok, failed[0][1] if failed else health[1])
        return result, (health, checks, smoke)

    def close(self) -> None:
        for checker in self._checkers.values():
            checker.close()
        self._checkers.clear()


def _first_failure(answers: list[tuple[bool, str]]) -> str:
    for ok, detail in answers:
        if not ok:
            return detail
    return answers[0][1] if answers else ""


def counted(
    results: CheckResults,
    checked: tuple[ReplicaCheck, ...] | None,
    replicas: ReplicaSet | None,
) -> CheckResults:
    """The round's results as the gate may take them, given the tasks that count now: health
    fails (saying which node) while fewer replicas run than wanted, or while one that runs has
    not passed its own checks in the round."""
    if replicas is None or checked is None:
        return results
    if results.health_ok is None:  # not checked (yet, or for too long): as for one container
        return results
    by_task = {check.task_id: check for check in checked}
    problems: list[str] = []  # how many run is the gate's own condition (replica_condition)
    for task in replicas.counting:
        check = by_task.get(task.id)
        if check is None:
            problems.append(f"replica on {task.node or '?'} not checked yet")
        elif not check.ok:
            problems.append(f"replica on {task.node}: {check.detail}")
    if not problems:
        return replace(results, health_detail=f"{len(replicas.counting)} replicas answer")
    return replace(results, health_ok=False, health_detail="; ".join(problems))


def replica_condition(replicas: ReplicaSet | None) -> tuple[bool, str] | None:
    """The gate's "replicas" condition: as many tasks count as wanted; None for one container."""
    if replicas is None:
        return None
    missing = missing_replicas(replicas)
    if missing:
        return False, missing[0]
    nodes = sorted({task.node for task in replicas.counting})
    return True, f"{len(replicas.counting)}/{replicas.desired} running on {', '.join(nodes)}"


def missing_replicas(replicas: ReplicaSet) -> list[str]:
    """Why fewer replicas count than wanted, naming the nodes: [] when none is missing."""
    if replicas.complete:
        return []
    counting = len(replicas.counting)
    reasons = [f"node {node} is down" for node in down_nodes(replicas)]
    reasons += rescheduled_after_outage(replicas)
    for task in replicas.tasks:
        if task.desired == "running" and not task.counts and task.node_up:
            reasons.append(_why_not_counted(task))
    text = f"{counting} of {replicas.desired} replicas running"
    return [text + (f" ({'; '.join(reasons)})" if reasons else "")]


def down_nodes(replicas: ReplicaSet) -> list[str]:
    """The nodes that are down while a task of the colour ran there (its last report)."""
    return sorted(
        {t.node for t in replicas.tasks if t.node and not t.node_up and t.state == "running"}
    )


def rescheduled_after_outage(replicas: ReplicaSet) -> list[str]:
    """Each node back from an outage that took its replica, not yet replaced there."""
    running_on = {task.node for task in replicas.counting}
    lost = outages_by_node(replicas.tasks, running_on)
    return [
        f"the replica on {node} was lost ({outage}), rescheduling" for node, outage in lost.items()
    ]


def _why_not_counted(task: TaskInfo) -> str:
    where = f" on {task.node}" if task.node else ""
    if not task.node_up and task.node:
        return f"node {task.node} is down"
    if task.error:
        return f"task {task.id[:12]}{where} {task.state}: {task.error}"
    return f"task {task.id[:12]}{where} {task.state}"


def replica_status(
    replicas: ReplicaSet | None,
    checked: tuple[ReplicaCheck, ...] | None,
) -> ReplicaStatus | None:
    """What status shows of the colour's replicas: every task the scheduler still wants, and
    those that stopped running lately (a failed or a moved one), with their checks."""
    if replicas is None:
        return None
    by_task = {check.task_id: check for check in checked or ()}
    counting_ids = {task.id for task in replicas.counting}
    shown: list[TaskStatus] = []
    listed: set[str] = set()
    for task in replicas.tasks:
        if task.id in listed:
            continue  # the scheduler listed it twice: shown (and counted) once
        listed.add(task.id)
        if task.desired != "running" and task.state not in ("running", "failed", "rejected"):
            continue  # history: shut down on purpose
        check = by_task.get(task.id)
        counts = task.id in counting_ids
        detail = ""
        if not counts:
            detail = _why_not_counted(task).split(": ", 1)[-1] if task.error else ""
            if not task.node_up and task.node:
                detail = f"node {task.node} is down"
            elif task.outage:
                detail = f"lost with its node ({task.outage})"
        elif check is not None and not check.ok:
            detail = check.detail
        shown.append(
            TaskStatus(
                id=task.id,
                node=task.node,
                state=task.state,
                desired=task.desired,
                endpoint=task.endpoint,
                node_up=task.node_up,
                counted=counts,
                healthy=(check.ok if check is not None else None) if counts else None,
                detail=detail,
                outage=task.outage,
            )
        )
    return ReplicaStatus(
        desired=replicas.desired, tasks=tuple(shown), down_nodes=tuple(down_nodes(replicas))
    )
