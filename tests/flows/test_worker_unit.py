"""The shipped worker unit (deploy/systemd/prefect-worker.service) spreads a launch over the workers and still lets a
lone worker finish it. A process worker takes every scheduled run it sees in one poll, up to its `--limit`: without
a limit, the first worker to poll took the launch and all its batch runs (deploy/README.md Mode 2 followed at
national scale, two workers). tests/flows/test_mode2_end_to_end.py starts its workers with these same arguments."""

from __future__ import annotations

from flows.launch_year import MAX_BATCHES, batch_count
from tests.flows.mode2 import worker_unit_args

NATIONAL_ORGS = 671_130


def _limit() -> int:
    args = worker_unit_args()
    assert args[:4] == ["worker", "start", "--pool", "shuzhi"], args
    assert "--limit" in args, "prefect-worker.service: a worker without --limit may take every batch run of a launch"
    return int(args[args.index("--limit") + 1])


def test_the_worker_running_a_national_launch_leaves_batch_runs_to_the_other_workers() -> None:
    batch_runs = batch_count(NATIONAL_ORGS) - 1  # the first batch is done in the launch's own run
    assert batch_runs == 2

    # the launch's run holds one of its worker's slots: the rest of the slots take fewer batch runs than there are
    assert _limit() - 1 < batch_runs


def test_a_worker_left_alone_can_run_the_launch_and_its_batches() -> None:
    limit = _limit()

    # with --limit 1 the launch's run would fill its worker, which would never take the batch runs it waits for
    assert limit >= 2
    # two workers hold the launch and the most batch runs a launch starts, all at once
    assert 2 * limit >= MAX_BATCHES
