"""The embedded scheduler (`shuzhi scheduler`): APScheduler 3 with two fixed jobs, guarded by a lease in the database.

Only the holder of the `scheduler` lease runs jobs; a second scheduler on the same database stands by,
re-trying the lease, and takes over only when the first stops renewing it. Jobs reference module-level
functions with explicit ids; the sweep's misfire grace is hours, so a scheduler that was down at 08:00
still sweeps when it comes back.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from services.clock import Clock, SystemClock
from services.settings import Settings
from storage.db import Database, to_db_time
from storage.tables.notify import scheduler_lock

LOCK_NAME = "scheduler"
LEASE = timedelta(minutes=3)
TIMEZONE = "Asia/Shanghai"
SWEEP_JOB_ID = "shuzhi-sweep"
DISPATCH_JOB_ID = "shuzhi-dispatch"
LEASE_JOB_ID = "shuzhi-lease"


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(db: Database, *, owner: str, now: datetime, lease: timedelta = LEASE) -> bool:
    """Take or renew the lease; False while another owner's lease is still running."""
    stamp, until = to_db_time(now), to_db_time(now + lease)
    with db.begin() as conn:
        insert: Any = postgresql.insert(scheduler_lock) if conn.dialect.name == "postgresql" else sqlite.insert(scheduler_lock)
        inserted = conn.execute(  # RETURNING: psycopg gives no rowcount for this insert through SQLAlchemy 2.1
            insert.values(name=LOCK_NAME, owner=owner, acquired_at=stamp, lease_until=until)
            .on_conflict_do_nothing().returning(scheduler_lock.c.name)
        ).first()
        if inserted is not None:
            return True
        renewed = conn.execute(
            scheduler_lock.update()
            .where(scheduler_lock.c.name == LOCK_NAME,
                   sa.or_(scheduler_lock.c.owner == owner, scheduler_lock.c.lease_until < stamp))
            .values(owner=owner, lease_until=until,
                    acquired_at=sa.case((scheduler_lock.c.owner == owner, scheduler_lock.c.acquired_at), else_=stamp))
        ).rowcount
        return bool(renewed)


def release_lease(db: Database, *, owner: str) -> None:
    with db.begin() as conn:
        conn.execute(scheduler_lock.delete().where(scheduler_lock.c.name == LOCK_NAME, scheduler_lock.c.owner == owner))


def lease_holder(db: Database) -> dict[str, Any] | None:
    with db.connect() as conn:
        row = conn.execute(sa.select(scheduler_lock).where(scheduler_lock.c.name == LOCK_NAME)).first()
    return dict(row._mapping) if row else None


# --- the jobs (module level, so a persistent job store could reference them by path) -------------------

def job_sweep(db_url: str, owner: str) -> dict[str, Any] | None:
    from services.sweep import sweep_deadlines

    db = Database(db_url)
    try:
        now = SystemClock().now()
        if not acquire_lease(db, owner=owner, now=now):
            return None
        return sweep_deadlines(db, now=now).as_dict()
    finally:
        db.dispose()


def job_dispatch(db_url: str, owner: str) -> dict[str, Any] | None:
    from notifications.config import build_channels
    from notifications.render import Renderer
    from services.outbox import RateOverride, dispatch

    settings = Settings.from_env(db_url=db_url)
    db = Database(db_url)
    try:
        now = SystemClock().now()
        if not acquire_lease(db, owner=owner, now=now):
            return None
        return dispatch(db, now=now, channels=build_channels(settings), renderer=Renderer.for_settings(settings),
                        rates=RateOverride.from_settings(settings.extra)).as_dict()
    finally:
        db.dispose()


def run_once(settings: Settings, *, clock: Clock, owner: str | None = None) -> dict[str, Any]:
    """`--once`: take the lease, sweep, dispatch, give the lease back; nothing if another scheduler holds it."""
    from notifications.config import build_channels
    from notifications.render import Renderer
    from services.outbox import RateOverride, dispatch
    from services.sweep import sweep_deadlines

    owner = owner or new_owner()
    db = Database(settings.db_url)
    try:
        now = clock.now()
        if not acquire_lease(db, owner=owner, now=now):
            holder = lease_holder(db) or {}
            return {"ran": [], "holder": holder.get("owner"),
                    "message": f"另一个调度器正在运行 (lease held by {holder.get('owner')}): 本次未执行任何任务"}
        try:  # each year isolated in both (H1): a bad stored plan is reported, the other years are done
            swept = sweep_deadlines(db, now=now).as_dict()
            sent = dispatch(db, now=now, channels=build_channels(settings), renderer=Renderer.for_settings(settings),
                            rates=RateOverride.from_settings(settings.extra)).as_dict()
        finally:
            release_lease(db, owner=owner)
        failed = {f["year"]: f["error"] for f in [*swept.get("failed_years", []), *sent.get("failed_years", [])]}
        message = f"已执行：排查（新排队 {swept['queued']} 条），发送（{sent['sent']} 条）"
        if failed:
            message += "；计划无法读取、已跳过的年度: " + ", ".join(str(y) for y in sorted(failed))
        return {"ran": ["sweep", "dispatch"], "sweep": swept, "dispatch": sent, "message": message,
                "failed_years": [{"year": y, "error": e} for y, e in sorted(failed.items())]}
    finally:
        db.dispose()


class LeasedScheduler:
    """An APScheduler whose jobs exist only while this process holds the lease."""

    def __init__(self, settings: Settings, *, sweep_cron: str, dispatch_seconds: int, clock: Clock | None = None,
                 background: bool = False, owner: str | None = None, lease: timedelta = LEASE) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.schedulers.blocking import BlockingScheduler

        self.settings = settings
        self.db = Database(settings.db_url)
        self.owner = owner or new_owner()
        self.clock = clock or SystemClock()
        self.lease = lease
        self.sweep_cron = sweep_cron
        self.dispatch_seconds = dispatch_seconds
        defaults = {"misfire_grace_time": int(timedelta(hours=6).total_seconds()), "coalesce": True, "max_instances": 1}
        factory = BackgroundScheduler if background else BlockingScheduler
        self.scheduler = factory(timezone=TIMEZONE, job_defaults=defaults)
        self.scheduler.add_job(self.tend_lease, "interval", seconds=max(int(lease.total_seconds() / 3), 1), id=LEASE_JOB_ID,
                               replace_existing=True)
        self.tend_lease()  # decided before start: the holder has its jobs, a stand-by has none

    @property
    def holds_lease(self) -> bool:
        return self.scheduler.get_job(SWEEP_JOB_ID) is not None

    def tend_lease(self) -> None:
        from apscheduler.triggers.cron import CronTrigger

        held = acquire_lease(self.db, owner=self.owner, now=self.clock.now(), lease=self.lease)
        if held and not self.holds_lease:
            kwargs = {"db_url": self.settings.db_url, "owner": self.owner}
            self.scheduler.add_job("services.scheduler:job_sweep", CronTrigger.from_crontab(self.sweep_cron, timezone=TIMEZONE),
                                   id=SWEEP_JOB_ID, kwargs=kwargs, replace_existing=True)
            self.scheduler.add_job("services.scheduler:job_dispatch", "interval", seconds=self.dispatch_seconds,
                                   id=DISPATCH_JOB_ID, kwargs=kwargs, replace_existing=True)
        elif not held and self.holds_lease:
            self.scheduler.remove_job(SWEEP_JOB_ID)
            self.scheduler.remove_job(DISPATCH_JOB_ID)

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        release_lease(self.db, owner=self.owner)
        self.db.dispose()


def run_scheduler(settings: Settings, *, once: bool, sweep_cron: str = "0 8 * * *", dispatch_seconds: int = 60,
                  clock: Clock | None = None) -> dict[str, Any]:
    if once:
        return run_once(settings, clock=clock or SystemClock())
    scheduler = LeasedScheduler(settings, sweep_cron=sweep_cron, dispatch_seconds=dispatch_seconds)
    try:
        scheduler.start()  # blocks until interrupted
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        scheduler.shutdown()
    return {"ran": [], "message": "调度器已停止"}
