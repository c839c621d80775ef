"""Every role × every action through the API: allowed ones succeed, refused ones are 403, audited, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from storage.tables.core import cycles, history, orgs, years
from storage.tables.web import web_audit
from tests.conftest import SAMPLE_PLAN

# cycle events: (org whose upward cycle is set up, state it is put in, event, note)
FIRE_CASES = {
    "secretary_step_own": ("V001", "researching", "finish_research", None),
    "secretary_step_other": ("V002", "researching", "finish_research", None),
    "review_in_scope": ("V001", "submitted", "revise", "问题分析不足"),
    "review_out_of_scope": ("C001", "submitted", "approve", None),
    "review_town_itself": ("T01", "submitted", "approve", None),
    "organizer_in_scope": ("V002", "presented", "close_evaluation", None),
    "close": ("V001", "committed", "close", None),
}
OTHER_CASES = ("launch_year", "import_orgs", "move_meeting", "ballots_in_scope", "remind_in_scope", "remind_out_of_scope")

ALLOWED: dict[str, set[str]] = {
    "admin": set(FIRE_CASES) | set(OTHER_CASES),
    "zzb": set(FIRE_CASES) | {"move_meeting", "ballots_in_scope", "remind_in_scope", "remind_out_of_scope"},
    "t01_reviewer": {"review_in_scope", "organizer_in_scope", "ballots_in_scope", "remind_in_scope"},
    "v001_secretary": {"secretary_step_own"},
    "viewer": set(),
}


def _snapshot(app: Any) -> tuple[Any, ...]:
    with app.db.connect() as conn:
        return (
            conn.execute(sa.select(cycles.c.id, cycles.c.state, cycles.c.version, cycles.c.due).order_by(cycles.c.id)).all(),
            conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(orgs)).scalar_one(),
            conn.execute(sa.select(years.c.year)).all(),
            conn.execute(sa.text("select count(*) from meetings")).scalar_one(),
        )


def _put(app: Any, org: str, state: str) -> None:
    with app.db.begin() as conn:
        org_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == org)).scalar_one()
        conn.execute(cycles.update().where(cycles.c.org_id == org_id, cycles.c.kind == "upward").values(state=state))


def _request(client: Any, case: str) -> Any:
    if case in FIRE_CASES:
        org, _, event, note = FIRE_CASES[case]
        return client.post(f"/api/cycles/2014/{org}/events", json={"event": event, "note": note})
    if case == "launch_year":
        plan = SAMPLE_PLAN.replace("2014", "2015").replace("2015-01-31", "2016-01-31")
        return client.post("/api/years", json={"year": 2015, "plan": plan})
    if case == "import_orgs":
        return client.post("/api/orgs/import", files={"file": ("o.csv", b"code,name,kind,parent\nT09,new,town,HC\n", "text/csv")})
    if case == "move_meeting":
        return client.post("/api/meetings/move", json={"year": 2014, "organizer": "T01", "date": "2014-12-28"})
    if case == "ballots_in_scope":
        return client.post("/api/ballots/issue", json={"year": 2014, "organizer": "T01", "count": 3})
    if case == "remind_in_scope":
        return client.post("/api/remind", json={"year": 2014, "org": "V001"})
    if case == "remind_out_of_scope":
        return client.post("/api/remind", json={"year": 2014, "org": "C001"})
    raise AssertionError(case)


@pytest.mark.parametrize("case", [*FIRE_CASES, *OTHER_CASES])
@pytest.mark.parametrize("name", list(ALLOWED))
def test_role_may_exactly_what_it_may(name: str, case: str, client_for: Any, web_app: Any) -> None:
    if case in FIRE_CASES:
        org, state, _, _ = FIRE_CASES[case]
        _put(web_app, org, state)
    client = client_for(name)
    before = _snapshot(web_app)
    response = _request(client, case)
    if case in ALLOWED[name]:
        # 501: the feature's service (another issue's) has not landed; the permission check passed
        assert response.status_code in (200, 501), (name, case, response.status_code, response.text)
        if response.status_code == 200 and case in {*FIRE_CASES, "launch_year", "import_orgs"}:
            assert _snapshot(web_app) != before
    else:
        assert response.status_code == 403, (name, case, response.status_code, response.text)
        assert _snapshot(web_app) == before
        with web_app.db.connect() as conn:
            audited = conn.execute(sa.select(web_audit.c.outcome).where(web_audit.c.username == name)).scalars().all()
        assert "denied" in audited


def test_scoped_pages_hide_what_the_role_may_not_do(client_for: Any, web_app: Any) -> None:
    _put(web_app, "C001", "submitted")
    _put(web_app, "V001", "submitted")
    reviewer = client_for("t01_reviewer")
    assert 'data-event="approve"' in reviewer.get("/cycles/2014/V001").text
    assert 'data-event="approve"' not in reviewer.get("/cycles/2014/C001").text
    assert reviewer.get("/admin/users").status_code == 403
    assert 'data-event' not in client_for("viewer").get("/cycles/2014/V001").text
