"""Bad input to the API, generated: never a 500, and a refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.tables.core import cycles, history, orgs, years

TEXT = st.text(max_size=30)
ANY = st.one_of(st.none(), st.integers(-10**6, 10**6), TEXT, st.booleans(), st.lists(st.integers(), max_size=3))
BODY = st.dictionaries(st.sampled_from(["event", "kind", "note", "year", "org", "plan", "organizer", "date", "count"]), ANY, max_size=5)
QUERY_KEYS = ["year", "kind", "code", "offset", "limit", "state", "under", "lagging", "q", "level", "step", "days_late", "format"]
# a path segment a client can send: printable, no '/', not '.' or '..'
SEGMENT = st.text(st.characters(categories=["L", "N", "P", "S"], exclude_characters="/?#%\\"), min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
PATHS = ["/api/cycles/{year}/{org}/events", "/api/years", "/api/remind", "/api/meetings/move", "/api/ballots/issue",
         "/api/remind/bulk", "/api/years/preview"]
GETS = ["/api/overview", "/api/tree", "/api/cycles", "/api/lagging", "/api/results", "/api/outbox", "/api/cycles/{year}/{org}",
        "/api/search", "/api/orgs/{org}/contact"]


def _snapshot(app: Any) -> tuple[Any, ...]:
    with app.db.connect() as conn:
        return (conn.execute(sa.select(cycles.c.state, cycles.c.version).order_by(cycles.c.id)).all(),
                conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one(),
                conn.execute(sa.select(sa.func.count()).select_from(orgs)).scalar_one(),
                conn.execute(sa.select(years.c.year)).all())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_bad_input_never_500_and_refusals_change_nothing(data: st.DataObject, viewer: Any, web_app: Any) -> None:
    year = data.draw(st.one_of(st.integers(-5, 3000), st.just(2014)))
    org = data.draw(st.one_of(st.sampled_from(["V001", "T01", "HC", "NOPE"]), SEGMENT))
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from(GETS)).format(year=year, org=org)
        params = data.draw(st.dictionaries(st.sampled_from(QUERY_KEYS), TEXT, max_size=4))
        response = viewer.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text)
        return
    path = data.draw(st.sampled_from(PATHS)).format(year=year, org=org)
    body = data.draw(BODY)
    before = _snapshot(web_app)
    response = viewer.post(path, json=body)
    assert response.status_code < 500, (path, body, response.text)
    assert response.status_code >= 400  # a viewer may change nothing
    assert _snapshot(web_app) == before


@pytest.fixture
def viewer(client_for: Any) -> Any:
    return client_for("viewer")


@pytest.fixture
def admin(client_for: Any) -> Any:
    return client_for("admin")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=st.text(max_size=20), note=st.one_of(st.none(), st.text(max_size=50)), kind=st.text(max_size=10))
def test_admin_bad_events_are_4xx_and_change_nothing(event: str, note: str | None, kind: str, admin: Any, web_app: Any) -> None:
    before = _snapshot(web_app)
    response = admin.post("/api/cycles/2014/V001/events", json={"event": event, "note": note, "kind": kind})
    assert response.status_code < 500
    if response.status_code != 200:
        assert _snapshot(web_app) == before
