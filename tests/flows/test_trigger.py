"""`shuzhi year start` with PREFECT_API_URL: the launch deployment started and followed over Prefect's REST API
(against a fake server speaking the same routes; the real one is exercised by bench/bench_prefect.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from flows.trigger import LAUNCH_DEPLOYMENT, api_headers, run_launch_deployment
from services.errors import ShuzhiError
from tests.conftest import SAMPLE_PLAN

API = "http://prefect.test:4200/api"


class FakePrefect:
    """The three routes the trigger uses; the flow run goes through `states` one read at a time."""

    def __init__(self, states: list[str], *, deployed: bool = True) -> None:
        self.states = states
        self.deployed = deployed
        self.created: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def run(self, state: str) -> dict[str, Any]:
        return {"id": "run-1", "name": "clever-fox", "state": {"type": state, "message": f"it is {state}"}}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        path = request.url.path.removeprefix("/api")
        if path == f"/deployments/name/{LAUNCH_DEPLOYMENT}":
            return httpx.Response(200, json={"id": "dep-1"}) if self.deployed else httpx.Response(404, json={})
        if path == "/deployments/dep-1/create_flow_run" and request.method == "POST":
            self.created.append(json.loads(request.content))
            return httpx.Response(201, json=self.run("SCHEDULED"))
        if path == "/flow_runs/run-1":
            return httpx.Response(200, json=self.run(self.states.pop(0) if len(self.states) > 1 else self.states[0]))
        return httpx.Response(404, json={"detail": "not found"})


def _launch(fake: FakePrefect | Callable[[httpx.Request], httpx.Response], env: dict[str, str] | None = None,
            meanwhile: Callable[[], object] | None = None) -> dict[str, Any]:
    handler = fake.handle if isinstance(fake, FakePrefect) else fake
    return run_launch_deployment(api_url=API, year=2014, plan_text=SAMPLE_PLAN, by="admin", now=None, env=env or {},
                                 meanwhile=meanwhile, sleep=lambda _s: None, transport=httpx.MockTransport(handler))


def test_the_launch_runs_as_the_deployment_with_no_credential_in_its_parameters() -> None:
    fake = FakePrefect(["PENDING", "RUNNING", "RUNNING", "COMPLETED"])
    seen: list[int] = []
    assert _launch(fake, {"SHUZHI_DB": "postgresql://shuzhi:s3cret@db/shuzhi"},
                   meanwhile=lambda: seen.append(len(fake.created))) == {
        "flow_run": "clever-fox", "flow_run_id": "run-1", "state": "COMPLETED"}
    assert fake.created == [{"parameters": {"year": 2014, "plan_text": SAMPLE_PLAN, "by": "admin"}}]
    assert seen == [1]  # the caller's own preparation ran once, after the run was created


def test_a_run_crashed_then_requeued_by_the_automation_is_followed_to_its_end() -> None:
    fake = FakePrefect(["RUNNING", "CRASHED", "CRASHED", "SCHEDULED", "PENDING", "RUNNING", "COMPLETED"])
    assert _launch(fake)["state"] == "COMPLETED"


@pytest.mark.parametrize(("states", "ended"), [(["RUNNING", "FAILED"], "FAILED"), (["CRASHED"], "CRASHED")])
def test_a_run_that_did_not_complete_is_an_error_naming_the_run_and_its_state(states: list[str], ended: str) -> None:
    with pytest.raises(ShuzhiError) as raised:
        _launch(FakePrefect(states))
    assert raised.value.code == "prefect.run_ended"
    assert "clever-fox" in str(raised.value) and ended in raised.value.render("en")


def test_no_deployment_or_no_server_is_said_plainly_and_starts_nothing() -> None:
    fake = FakePrefect(["COMPLETED"], deployed=False)
    with pytest.raises(ShuzhiError) as raised:
        _launch(fake)
    assert raised.value.code == "prefect.no_deployment" and fake.created == []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ShuzhiError) as raised:
        _launch(refuse)
    assert raised.value.code == "prefect.unreachable" and API in raised.value.render("en")


def test_prefects_client_credentials_are_sent_as_prefect_sends_them() -> None:
    assert api_headers({}) == {}
    assert api_headers({"PREFECT_API_KEY": "pnu_abc"}) == {"Authorization": "Bearer pnu_abc"}
    assert api_headers({"PREFECT_API_AUTH_STRING": "admin:pass"}) == {"Authorization": "Basic YWRtaW46cGFzcw=="}
    fake = FakePrefect(["COMPLETED"])
    _launch(fake, {"PREFECT_API_AUTH_STRING": "admin:pass"})
    assert {h["authorization"] for h in fake.headers} == {"Basic YWRtaW46cGFzcw=="}
