"""The review feature's transition hook: what each event writes or refuses, inside the transition's transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.cycles import FiredEvent


def review_hook(conn: sa.Connection, fired: FiredEvent, cycle: Any) -> None:
    """submit/resubmit keep the report version; revise/rewrite record the reason on it; present needs the
    meeting open; close_evaluation freezes the tally; give_feedback renders the notice; file_commitment
    needs a commitment and at least one rectification item."""
    event = fired.event
    if event in ("submit", "resubmit"):
        from services.reports import store_submitted_report

        store_submitted_report(conn, fired, cycle)
    elif event in ("revise", "rewrite"):
        from services.reports import record_return

        record_return(conn, fired, cycle)
    elif event == "present":
        from services.meetings import check_present_allowed, mark_presented

        check_present_allowed(conn, cycle, fired.org_code)
        mark_presented(conn, cycle.id, fired.at)
    elif event == "close_evaluation":
        from services.ballots import freeze_tally

        freeze_tally(conn, cycle, fired.at)
    elif event == "give_feedback":
        from services.feedback import produce_notice

        produce_notice(conn, fired, cycle)
    elif event == "file_commitment":
        from services.rectification import check_and_file_commitment

        check_and_file_commitment(conn, fired, cycle)
