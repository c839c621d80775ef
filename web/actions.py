"""What the console's buttons and its API do: check who may (services.permissions), call the use case, audit.

A refusal is recorded in the audit table and changes nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from services.accounts import Account, create_user, record
from services.app import App
from services.cycles import fire_event
from services.errors import PermissionDenied, ShuzhiError
from services.orgs import import_orgs
from services.permissions import require
from services.years import start_year
from web import integrations

ALLOWED_UPLOADS = (".csv", ".xlsx")
MAX_UPLOAD = 20 * 1024 * 1024


# Actions that change the overview's counts without a history row the cache can apply (a tree re-imported, a year
# (re)launched): the funnel cache recounts after them. A transition is a history row, which the cache applies
# incrementally, and a moved meeting's history rows make it recount (services.dashboard.FunnelCache, in every
# process): clearing it after each action made every overview of a busy console a national recount.
RECOUNT_AFTER = frozenset({"import_orgs", "start_year"})


class Console:
    """One request's actor, acting through the services; every refusal is audited."""

    def __init__(self, app: App, account: Account, client: str, on_change: Any = None) -> None:
        self.app = app
        self.account = account
        self.actor = account.actor
        self.client = client
        self.on_change = on_change

    def _audit(self, action: str, outcome: str, detail: str) -> None:
        record(self.app.db, now=self.app.now(), username=self.account.name, action=action, outcome=outcome,
               detail=detail, client=self.client)

    def _run(self, action: str, detail: str, call: Any) -> Any:
        try:
            result = call()
        except PermissionDenied as denied:
            self._audit(action, "denied", f"{detail}: {denied.message}")
            raise
        except ShuzhiError:
            raise
        self._audit(action, "ok", detail)
        if self.on_change is not None and action in RECOUNT_AFTER:
            self.on_change()
        return result

    def require(self, action: str, *, org: str | None = None) -> None:
        try:
            require(self.app.db, self.actor, action, org=org)
        except PermissionDenied as denied:
            self._audit(action, "denied", f"{org or ''}: {denied.message}")
            raise

    def fire(self, *, year: int, org: str, event: str, kind: str = "upward", note: str | None = None) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            fired = fire_event(self.app.db, year=year, org=org, event=event, kind=kind, now=self.app.now(),
                               note=note or None, actor=self.actor, hooks=self.app.hooks)
            return fired.as_dict()

        return dict(self._run("fire", f"{year} {org} {kind} {event}", call))

    def import_orgs(self, filename: str, content: bytes) -> dict[str, int]:
        self.require("import_orgs")
        suffix = Path(filename or "").suffix.lower()
        if suffix not in ALLOWED_UPLOADS:
            from services.errors import BadInput

            raise BadInput("file.type", name=Path(filename or "").name[:80], suffix=suffix or "—")
        with tempfile.TemporaryDirectory() as folder:
            # named after the upload, so a message names the user's file, never the server's temporary folder
            stem = "".join(ch for ch in Path(filename).stem if ch.isalnum() or ch in "-_.")[:60] or "upload"
            path = Path(folder) / f"{stem}{suffix}"
            path.write_bytes(content)
            return dict(self._run("import_orgs", filename, lambda: import_orgs(self.app.db, path, now=self.app.now()).as_dict()))

    def start_year(self, *, year: int, plan_text: str) -> dict[str, Any]:
        self.require("start_year")
        return dict(self._run("start_year", str(year), lambda: start_year(
            self.app.db, plan_text=plan_text, year=year, now=self.app.now(), by=self.account.name).as_dict()))

    def move_meeting(self, *, year: int, organizer: str, when: str) -> dict[str, Any]:
        self.require("move_meeting", org=organizer)
        return dict(self._run("move_meeting", f"{year} {organizer} {when}", lambda: integrations.move_meeting(
            self.app.db, year=year, organizer=organizer, when=when, now=self.app.now(), by=self.account.name)))

    def issue_ballots(self, *, year: int, organizer: str, count: int) -> dict[str, Any]:
        self.require("issue_ballots", org=organizer)
        from services.ballots import ballot_key

        return dict(self._run("issue_ballots", f"{year} {organizer} ×{count}", lambda: integrations.issue_ballots(
            self.app.db, year=year, organizer=organizer, count=count, now=self.app.now(), by=self.account.name,
            key=ballot_key(self.app.settings))))

    def remind(self, *, year: int, org: str, kind: str = "upward") -> dict[str, Any]:
        from services.permissions import check_remind

        try:
            with self.app.db.connect() as conn:
                check_remind(conn, self.actor, year=year, org=org, kind=kind)
        except PermissionDenied as denied:
            self._audit("remind", "denied", f"{org}: {denied.message}")
            raise
        return dict(self._run("remind", f"{year} {org} {kind}", lambda: integrations.remind_now(
            self.app.db, year=year, org=org, kind=kind, now=self.app.now(), by=self.account.name)))

    def add_user(self, *, name: str, role: str, password: str, scope: str | None) -> dict[str, Any]:
        self.require("manage_users")
        return dict(self._run("add_user", f"{name} {role} {scope or ''}", lambda: create_user(
            self.app.db, name, role, password, scope=scope or None).as_dict()))
