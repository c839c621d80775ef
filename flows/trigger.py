"""Start a deployment from the CLI: `shuzhi year start` with PREFECT_API_URL set runs the `launch-year`
deployment (its batches then spread over the pool's workers) with the plan file's text as a parameter.

Through Prefect's REST API with httpx, without importing Prefect: `import prefect.deployments` costs the
`shuzhi` process 2-3 s on a quiet 2-core machine (16 s loaded), more than the rest of the command; what the
command needs is three calls (find the deployment, create the flow run, read its state until it ends)."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

LAUNCH_DEPLOYMENT = "launch-year/launch-year"
POLL_SECONDS = 0.5
# A crashed run is put back in the queue by the `shuzhi-rerun-crashed` automation within a second or two (same
# flow run): a run still Crashed after this long stays crashed (no automation installed, or a crash loop).
CRASHED_GRACE_SECONDS = 30.0
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def launch_parameters(*, year: int, plan_text: str, by: str, now: str | None) -> dict[str, Any]:
    """What the deployment gets: never the database URL or any credential (the worker has them)."""
    parameters: dict[str, Any] = {"year": year, "plan_text": plan_text, "by": by}
    if now:
        parameters["now"] = now
    return parameters


def api_headers(env: Mapping[str, str]) -> dict[str, str]:
    """Prefect's own ways to authenticate a client: PREFECT_API_KEY (a bearer key, Prefect Cloud) or
    PREFECT_API_AUTH_STRING (`user:password`, a self-hosted server with basic auth)."""
    if env.get("PREFECT_API_KEY"):
        return {"Authorization": f"Bearer {env['PREFECT_API_KEY']}"}
    if env.get("PREFECT_API_AUTH_STRING"):
        return {"Authorization": "Basic " + base64.b64encode(env["PREFECT_API_AUTH_STRING"].encode()).decode()}
    return {}


def run_launch_deployment(*, api_url: str, year: int, plan_text: str, by: str, now: str | None,
                          meanwhile: Callable[[], object] | None = None, env: Mapping[str, str] | None = None,
                          sleep: Callable[[float], None] = time.sleep, transport: Any = None) -> dict[str, Any]:
    """Create the flow run, wait for it (the workers do the work), and say how it ended.

    `meanwhile` is called once the run exists (the caller's own preparation, overlapped with the run). A run seen
    Crashed is given CRASHED_GRACE_SECONDS to be re-queued (the automations of deploy/automations.yaml
    do it, and a worker then finishes the same run) before it counts as ended. `transport`: httpx's, for tests."""
    import httpx

    from services.errors import ShuzhiError

    env = os.environ if env is None else env
    base = api_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, headers=api_headers(env), timeout=30, transport=transport) as client:
            found = client.get(f"/deployments/name/{LAUNCH_DEPLOYMENT}")
            if found.status_code == 404:
                raise ShuzhiError("prefect.no_deployment", name=LAUNCH_DEPLOYMENT)
            found.raise_for_status()
            created = client.post(f"/deployments/{found.json()['id']}/create_flow_run",
                                  json={"parameters": launch_parameters(year=year, plan_text=plan_text, by=by, now=now)})
            created.raise_for_status()
            run = created.json()
            if meanwhile is not None:
                meanwhile()
            crashed_polls = 0
            while True:
                state = run.get("state") or {}
                kind = state.get("type")
                crashed_polls = crashed_polls + 1 if kind == "CRASHED" else 0
                if kind in FINAL or crashed_polls > CRASHED_GRACE_SECONDS / POLL_SECONDS:
                    break
                sleep(POLL_SECONDS)
                answer = client.get(f"/flow_runs/{run['id']}")
                answer.raise_for_status()
                run = answer.json()
    except httpx.HTTPError as error:
        raise ShuzhiError("prefect.unreachable", url=base, detail=f"{type(error).__name__}: {error}") from error
    if kind != "COMPLETED":
        raise ShuzhiError("prefect.run_ended", name=run.get("name", run["id"]), state=kind or "UNKNOWN",
                          message=state.get("message") or "")
    return {"flow_run": run["name"], "flow_run_id": str(run["id"]), "state": kind}
