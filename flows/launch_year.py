"""The `launch-year` flow: prepare once, the cascade in batches of subtrees spread over the workers, finalize once.

Each batch is a flow run of the `launch-batch` deployment (`run_deployment`): Prefect hands it to whichever worker
of the pool polls first, up to that worker's `--limit` (2 in deploy/systemd/prefect-worker.service: without a limit
one worker may take them all), so batches run on several machines at once. Batches insert with ON CONFLICT DO NOTHING,
so a batch (or the whole launch) run again after a crash creates only what is missing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

BATCH_DEPLOYMENT = "launch-batch/launch-batch"
MAX_BATCHES = 4  # the first in the launch's own run, the others as flow runs: 2 per worker with two workers
# A batch flow run costs ~5 s before it inserts anything (a worker poll, a new process, imports, API calls; far
# more on a loaded machine) while the insert does ~4,000–8,000 organizations a second: below this much work per
# batch the launch's own run does it sooner itself.
ORGS_PER_BATCH = 200_000
POLL_SECONDS = 0.5


def batch_count(organizations: int, requested: int | None = None) -> int:
    """How many batches: `requested` when given, else sized by the tree (1 below 2 × ORGS_PER_BATCH assessed
    organizations, at most MAX_BATCHES)."""
    if requested:
        return max(1, requested)
    return max(1, min(MAX_BATCHES, organizations // ORGS_PER_BATCH))


def split_roots(roots: Sequence[str], batches: int) -> list[list[str]]:
    """Contiguous groups of subtree roots in path order, as even as the count allows (never an empty group)."""
    roots = sorted(roots)
    count = max(1, min(batches, len(roots)))
    size, extra = divmod(len(roots), count)
    groups, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        groups.append(list(roots[start:end]))
        start = end
    return [g for g in groups if g]


def run_batch(year: int, paths: Sequence[str], now: str) -> int:
    """One batch as a plain function (tests call it without Prefect): the cycles it created."""
    from flows.runtime import flow_settings
    from services.clock import parse_when
    from services.years import launch_subtrees
    from storage.db import Database

    db = Database(flow_settings().db_url)
    try:
        return launch_subtrees(db, year=year, paths=paths, now=parse_when(now))
    finally:
        db.dispose()


@flow(name="launch-batch", log_prints=False, retries=2, retry_delay_seconds=5)
async def launch_batch_flow(year: int, paths: list[str], now: str) -> int:
    """The cycles of some subtrees of an already prepared year (idempotent: run it again at will).

    Async only to end sooner (a sync flow run waits up to a second for its heartbeat thread at the end): the
    work is the same two set-based statements, in a thread."""
    import asyncio

    from flows.runtime import guard_crash_loop

    guard_crash_loop()
    return await asyncio.to_thread(run_batch, year, paths, now)


def _submit(groups: list[list[str]], year: int, now: str, *, first: int) -> list[Any]:
    """One `launch-batch` flow run per group; any worker of the pool takes it.

    The idempotency keys carry this flow run's id: when this run is itself re-run after a crash it gets the same
    batch runs back instead of new ones."""
    from prefect.deployments import run_deployment
    from prefect.runtime import flow_run

    total = first + len(groups)
    return [
        run_deployment(BATCH_DEPLOYMENT, parameters={"year": year, "paths": paths, "now": now}, timeout=0,
                       idempotency_key=f"{flow_run.id}:{i}", flow_run_name=f"launch-{year}-batch-{i + 1}-of-{total}")
        for i, paths in enumerate(groups, start=first)
    ]


def _wait_for(runs: list[Any]) -> None:
    """Until every batch run has completed. A batch run that crashed is re-queued (by the `shuzhi-rerun-crashed`
    automation, or here); one that failed for good (or started 6 times) fails the launch."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Scheduled

    pending = {run.id for run in runs}
    with get_client(sync_client=True) as client:
        while pending:
            for run_id in list(pending):
                state = client.read_flow_run(run_id).state
                kind = state.type if state else None
                if kind == StateType.COMPLETED:
                    pending.discard(run_id)
                elif kind == StateType.CRASHED:  # what the automation does too; here for a server without it
                    client.set_flow_run_state(run_id, Scheduled(name="AwaitingRetry", message="re-queued by its launch"))
                elif kind in (StateType.FAILED, StateType.CANCELLED):
                    raise RuntimeError(f"launch batch {run_id} ended {kind.value}: {state.message if state else ''}")
            if pending:
                time.sleep(POLL_SECONDS)


def _worth_retrying(_task: Any, _run: Any, state: Any) -> bool:
    """Database hiccups are retried; a refusal by the rules (bad plan, no organizations) is not."""
    from services.errors import ShuzhiError

    return not isinstance(state.result(raise_on_failure=False), ShuzhiError)


def _prepare(year: int, plan_text: str, now: str, by: str) -> Any:
    from flows.runtime import flow_settings
    from services.clock import parse_when
    from services.years import prepare_launch
    from storage.db import Database

    db = Database(flow_settings().db_url)
    try:
        return prepare_launch(db, plan_text=plan_text, year=year, now=parse_when(now), by=by)
    finally:
        db.dispose()


def _finalize(prepared: Any) -> dict[str, Any]:
    from flows.runtime import flow_settings
    from services.years import finalize_launch
    from storage.db import Database

    db = Database(flow_settings().db_url)
    try:
        return finalize_launch(db, prepared=prepared).as_dict()
    finally:
        db.dispose()


def _launch_whole(year: int, plan_text: str, now: str, by: str) -> dict[str, Any]:
    """The plain launch (`shuzhi year start --direct`): prepare, the tree in two statements, finalize, one
    transaction."""
    from flows.runtime import flow_settings
    from services.clock import parse_when
    from services.years import start_year
    from storage.db import Database

    db = Database(flow_settings().db_url)
    try:
        return start_year(db, plan_text=plan_text, year=year, now=parse_when(now), by=by).as_dict()
    finally:
        db.dispose()


def _assessed() -> int:
    from flows.runtime import flow_settings
    from services.years import assessed_count
    from storage.db import Database

    db = Database(flow_settings().db_url)
    try:
        return assessed_count(db)
    finally:
        db.dispose()


# No cache and no stored results: every step is idempotent by itself (a re-run finds what exists), and hashing
# the inputs (the plan, the prepared launch's roots) to look up a cache would only cost time.
size_task = task(name="count-organizations", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE,
                 persist_result=False)(_assessed)
whole_task = task(name="launch-whole-tree", retries=2, retry_delay_seconds=5, retry_condition_fn=_worth_retrying,
                  cache_policy=NO_CACHE, persist_result=False)(_launch_whole)
prepare_task = task(name="prepare-launch", retries=2, retry_delay_seconds=5, retry_condition_fn=_worth_retrying,
                    cache_policy=NO_CACHE, persist_result=False)(_prepare)
finalize_task = task(name="finalize-launch", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE,
                     persist_result=False)(_finalize)
batch_task = task(name="launch-subtrees", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE,
                  persist_result=False)(run_batch)


def _in_deployment() -> bool:
    from prefect.runtime import deployment

    return bool(deployment.id)


def launch_markdown(summary: dict[str, Any]) -> str:
    from flows.artifacts import bounded_markdown

    head = [f"# {summary['year']} 年度启动 launch", "",
            f"- created cycles: **{summary['created']}** (already there: {summary['existing']})",
            f"- meetings: {summary['meetings_created']} new, {summary['meetings_existing']} existing",
            f"- assessed organizations: {summary['organizations']}; relaunch: {summary['relaunch']}",
            f"- batches: {summary.get('batches', 1)} over {summary.get('subtrees', 1)} subtrees", ""]
    rows = sorted(summary.get("created_by_kind", {}).items())
    return bounded_markdown(head, ["kind", "cycles in the year"], rows, page=f"/overview?year={summary['year']}",
                            noun="kinds")


@flow(name="launch-year", log_prints=False)
def launch_year_flow(year: int, plan_text: str, now: str | None = None, by: str = "admin",
                     batches: int | None = None) -> dict[str, Any]:
    """Launch a year (idempotent like `shuzhi year start`): prepare, batches of subtrees, finalize.

    `batches`: how many (default: sized by the tree, see `batch_count`); one batch is the plain launch in one
    task and one transaction. With several, as a deployment this run does the first
    batch itself and the others are `launch-batch` flow runs spread over the pool's workers (running while this
    one works); run directly (no deployment) they are tasks in this process. Database hiccups are retried by the tasks; a crash of this run
    (its machine lost) is re-run by the automations of deploy/automations.yaml."""
    from flows.runtime import flow_now, guard_crash_loop
    from services.years import load_plan_text

    guard_crash_loop()
    load_plan_text(plan_text, year=year)  # a bad plan fails the run before anything is written
    when = flow_now(now).isoformat()
    count = batch_count(0 if batches else size_task(), batches)
    if count == 1:
        # one batch: exactly the plain launch, in one task (a first launch inserts without conflict checks)
        summary = {**whole_task(year, plan_text, when, by), "batches": 1, "subtrees": 1}
        create_markdown_artifact(key=f"launch-{year}", markdown=launch_markdown(summary),
                                 description=f"launch of {year}")
        return summary
    prepared: Any = prepare_task(year, plan_text, when, by)
    groups = split_roots(prepared.roots, count)
    if _in_deployment() and len(groups) > 1:
        # the other batches go to the pool; this run does the first itself while their processes start
        runs = _submit(groups[1:], year, when, first=1)
        batch_task(year, groups[0], when)
        _wait_for(runs)
    else:
        for paths in groups:
            batch_task(year, paths, when)
    summary = {**finalize_task(prepared), "batches": len(groups), "subtrees": len(prepared.roots)}
    create_markdown_artifact(key=f"launch-{year}", markdown=launch_markdown(summary), description=f"launch of {year}")
    return summary
