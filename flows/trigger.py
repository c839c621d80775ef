"""Start a deployment from the CLI: `shuzhi year start` with PREFECT_API_URL set runs the `launch-year`
deployment (its batches then spread over the pool's workers) with the plan file's text as a parameter."""

from __future__ import annotations

from typing import Any

LAUNCH_DEPLOYMENT = "launch-year/launch-year"


def launch_parameters(*, year: int, plan_text: str, by: str, now: str | None) -> dict[str, Any]:
    """What the deployment gets: never the database URL or any credential (the worker has them)."""
    parameters: dict[str, Any] = {"year": year, "plan_text": plan_text, "by": by}
    if now:
        parameters["now"] = now
    return parameters


def run_launch_deployment(*, year: int, plan_text: str, by: str, now: str | None) -> dict[str, Any]:
    """Create the flow run, wait for it (the workers do the work), and say how it ended."""
    from prefect.deployments import run_deployment

    from services.errors import ShuzhiError

    run: Any = run_deployment(LAUNCH_DEPLOYMENT, parameters=launch_parameters(year=year, plan_text=plan_text, by=by, now=now),
                         as_subflow=False, poll_interval=0.5)
    state = run.state
    if state is None or not state.is_completed():
        kind = state.type.value if state else "UNKNOWN"
        raise ShuzhiError(f"Prefect 运行 {run.name} 结束于 {kind}：{state.message if state else ''}（见 Prefect 界面的日志）")
    return {"flow_run": run.name, "flow_run_id": str(run.id), "state": state.type.value}
