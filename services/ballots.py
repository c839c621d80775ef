"""Anonymous ballots (R29, results.md §2): single-use codes, casting, paper ballots, the tally and its freeze.

Anonymity by construction: a code is stored only as a hash with a used flag, and a ballot is never a row —
it increments running counts per (cycle, rating). Each cast rewrites every count row of its meeting, so
neither content, order nor physical row versions link a ballot to a code, a person or a moment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound, Problem, Refused, row_problem
from services.meetings import MeetingRef, attendee_count, presenting_cycles, resolve_meeting
from storage.db import Database, to_db_time
from storage.tables.core import cycles, orgs, years
from storage.tables.review import ballot_batches, ballot_codes, ballot_counts, ballot_tallies

RATINGS: tuple[str, ...] = ("好", "较好", "一般", "差")
RATING_ALIASES: dict[str, str] = {
    **{r: r for r in RATINGS},
    "excellent": "好",
    "good": "较好",
    "fair": "一般",
    "poor": "差",
}
DEFAULT_SCALE: dict[str, float] = {"好": 100.0, "较好": 80.0, "一般": 60.0, "差": 0.0}
DEFAULT_QUORUM_RATIO = 2 / 3
# No 0/O, 1/I/L: codes are read aloud and typed from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # ~49 bits: unguessable for a meeting's lifetime
MAX_CODES = 5000


def normalize_rating(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return RATING_ALIASES.get(value.strip()) or RATING_ALIASES.get(value.strip().lower())


def clean_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def hash_code(code: str, key: bytes | None = None) -> str:
    """What is stored for a code: HMAC-SHA-256 with the server secret (issue 10 L13: without the secret, the
    database alone does not let anyone try the 31^10 codes offline); plain SHA-256 when no secret is configured
    (development, and codes issued before keyed hashing — still verified, see `candidate_hashes`)."""
    cleaned = clean_code(code).encode("utf-8")
    if key:
        return hmac.new(key, cleaned, hashlib.sha256).hexdigest()
    return hashlib.sha256(cleaned).hexdigest()


def candidate_hashes(code: str, key: bytes | None) -> list[str]:
    """The stored forms a code may have: keyed (current) and unkeyed (issued before the key, or without one)."""
    return list(dict.fromkeys([hash_code(code, key), hash_code(code)]))


def ballot_key(settings: Any) -> bytes | None:
    """The key of ballot-code hashes: SHUZHI_BALLOT_KEY, else SHUZHI_SECRET_KEY (the same for the CLI and the web);
    None when neither is set. Changing it makes unspent codes issued under the old key unusable."""
    extra = getattr(settings, "extra", None) or {}
    key = extra.get("SHUZHI_BALLOT_KEY") or extra.get("SHUZHI_SECRET_KEY") or ""
    return key.encode("utf-8") if key else None


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


@dataclass(frozen=True)
class BallotRules:
    scale: dict[str, float]
    quorum: int | None  # an absolute number of ballots per secretary, if the plan sets one
    quorum_ratio: float


def ballot_rules(conn: sa.Connection, year: int) -> BallotRules:
    """The plan's [ballots] section: `scale` (rating → points), `quorum` (ballots) or `quorum_ratio`."""
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    section = dict((plan or {}).get("ballots") or {})
    scale = dict(DEFAULT_SCALE)
    problems: list[str] = []
    for key, value in dict(section.get("scale") or {}).items():
        rating = normalize_rating(key)
        if rating is None or isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            problems.append(Problem("ballots.scale_bad", key=key, value=value))
        else:
            scale[rating] = float(value)
    quorum = section.get("quorum")
    if quorum is not None and (isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 0):
        problems.append(Problem("ballots.quorum_bad", value=quorum))
    ratio = section.get("quorum_ratio", DEFAULT_QUORUM_RATIO)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        problems.append(Problem("ballots.ratio_bad", value=ratio))
        ratio = DEFAULT_QUORUM_RATIO
    unknown = set(section) - {"scale", "quorum", "quorum_ratio"}
    problems += [Problem("ballots.key_unknown", key=k) for k in sorted(unknown)]
    if problems:
        raise BadInput("plan.invalid", count=len(problems), first=problems[0], problems=problems)
    return BallotRules(scale=scale, quorum=quorum, quorum_ratio=float(ratio))


def compute_tally_entry(counts: dict[str, int], rules: BallotRules) -> dict[str, Any]:
    """satisfaction = (好 + 较好) / ballots; score = the scale's mean over the ballots (results.md)."""
    ballots = sum(counts.get(r, 0) for r in RATINGS)
    if ballots == 0:
        return {"ballots": 0, "counts": {r: 0 for r in RATINGS}, "satisfaction": None, "score": None}
    satisfaction = (counts.get("好", 0) + counts.get("较好", 0)) / ballots
    score = sum(counts.get(r, 0) * rules.scale[r] for r in RATINGS) / ballots
    return {
        "ballots": ballots,
        "counts": {r: counts.get(r, 0) for r in RATINGS},
        "satisfaction": round(satisfaction, 4),
        "score": round(score, 2),
    }


def _ensure_count_rows(conn: sa.Connection, cycle_ids: list[int]) -> None:
    """Zero rows for every (cycle, rating) before the first ballot, so casting only ever updates."""
    if not cycle_ids:
        return
    have = {
        (r.cycle_id, r.rating)
        for r in conn.execute(
            sa.select(ballot_counts.c.cycle_id, ballot_counts.c.rating).where(ballot_counts.c.cycle_id.in_(cycle_ids))
        )
    }
    missing = [{"cycle_id": c, "rating": r, "n": 0} for c in cycle_ids for r in RATINGS if (c, r) not in have]
    if missing:
        conn.execute(ballot_counts.insert(), missing)


def _frozen_cycle_ids(conn: sa.Connection, cycle_ids: list[int]) -> set[int]:
    if not cycle_ids:
        return set()
    return set(conn.execute(sa.select(ballot_tallies.c.cycle_id).where(ballot_tallies.c.cycle_id.in_(cycle_ids))).scalars())


def _add_counts(conn: sa.Connection, all_cycle_ids: list[int], increments: dict[tuple[int, str], int]) -> None:
    """One UPDATE over every count row of the meeting (see the module docstring)."""
    _ensure_count_rows(conn, all_cycle_ids)
    whens = [
        (sa.and_(ballot_counts.c.cycle_id == cycle_id, ballot_counts.c.rating == rating), amount)
        for (cycle_id, rating), amount in increments.items()
        if amount
    ]
    delta = sa.case(*whens, else_=0) if whens else sa.literal(0)
    conn.execute(
        ballot_counts.update().where(ballot_counts.c.cycle_id.in_(all_cycle_ids)).values(n=ballot_counts.c.n + delta)
    )


def issue_codes(
    db: Database, *, year: int, count: int, now: datetime, organizer: str | None = None, own: str | None = None,
    by: str = "cli", key: bytes | None = None,
) -> dict[str, Any]:
    """N single-use codes for the meeting; only their hashes are kept, so they are shown this once."""
    if count < 1 or count > MAX_CODES:
        raise BadInput("ballots.count", option="--count", count=count, limit=MAX_CODES)
    codes: list[str] = []
    hashes: set[str] = set()
    while len(codes) < count:
        code = _new_code()
        digest = hash_code(code, key)
        if digest not in hashes:
            hashes.add(digest)
            codes.append(code)
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own, create_own=True)
        presenting = presenting_cycles(conn, ref)
        if not presenting:
            raise Refused("meeting.nobody", organizer=ref.label, year=year)
        conn.execute(ballot_codes.insert(), [{**ref.column_values(), "code_hash": h, "used": False} for h in
                                             (hash_code(c, key) for c in codes)])
        conn.execute(ballot_batches.insert().values(**ref.column_values(), channel="codes", count=count,
                                                    at=to_db_time(now), by=by))
        _ensure_count_rows(conn, [c.id for c in presenting])
    return {"meeting": ref.organizer_code, "codes": codes}


def _parse_ratings(ratings: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(ratings, str):
        try:
            data = json.loads(ratings)
        except json.JSONDecodeError as error:
            raise BadInput("ratings.json", detail=error.msg, option="--ratings") from None
    else:
        data = ratings
    if not isinstance(data, dict) or not data:
        raise BadInput("ratings.shape", option="--ratings")
    return data


def _validate_ballot(data: dict[str, Any], by_code: dict[str, int], row: int | None, label: str) -> dict[int, str]:
    """The ratings of one ballot (`row`: its row in a file of paper forms, named in each problem)."""
    problems: list[Problem] = []
    chosen: dict[int, str] = {}
    for org, value in data.items():
        rating = normalize_rating(value)
        if org not in by_code:
            problems.append(Problem("ballot_row.not_presenting", org=str(org)[:40], organizer=label))
        elif rating is None:
            problems.append(Problem("ballot_row.rating_bad", org=org, value=str(value)[:40]))
        else:
            chosen[by_code[org]] = rating
    if problems:
        if row is not None:
            problems = [row_problem(row, p) for p in problems]
        raise BadInput.listing(problems)
    return chosen


def cast_ballot(db: Database, *, year: int, code: str, ratings: str | dict[str, Any],
                key: bytes | None = None) -> dict[str, Any]:
    """Cast one ballot with a code. Unknown or used code → Refused; a bad rating → BadInput; nothing stored then."""
    data = _parse_ratings(ratings)
    with db.begin() as conn:
        row = conn.execute(
            sa.select(ballot_codes.c.id, ballot_codes.c.meeting_id, ballot_codes.c.committee_meeting_id, ballot_codes.c.used)
            .where(ballot_codes.c.code_hash.in_(candidate_hashes(code, key)))
        ).first()
        ref = _meeting_of_code(conn, row, year) if row is not None else None
        if row is None or ref is None:
            raise Refused("ballot.unknown")
        if row.used:
            raise Refused("ballot.used")
        presenting = presenting_cycles(conn, ref)
        chosen = _validate_ballot(data, {c.code: c.id for c in presenting}, None, ref.label)
        frozen = _frozen_cycle_ids(conn, list(chosen))
        if frozen:
            names = ", ".join(c.code for c in presenting if c.id in frozen)
            raise Refused("ballot.closed", names=names)
        used = conn.execute(
            ballot_codes.update().where(ballot_codes.c.id == row.id, ballot_codes.c.used.is_(False)).values(used=True)
        ).rowcount
        if used != 1:
            raise Refused("ballot.used")
        _add_counts(conn, [c.id for c in presenting], {(cycle_id, rating): 1 for cycle_id, rating in chosen.items()})
    return {"meeting": ref.organizer_code, "rated": len(chosen)}


def _meeting_of_code(conn: sa.Connection, row: Any, year: int) -> MeetingRef | None:
    from storage.tables.core import meetings
    from storage.tables.review import committee_meetings

    if row.meeting_id is not None:
        m = conn.execute(
            sa.select(meetings.c.year, orgs.c.code).select_from(meetings.join(orgs, orgs.c.id == meetings.c.organizer_id))
            .where(meetings.c.id == row.meeting_id)
        ).one()
        return resolve_meeting(conn, year=year, organizer=m.code) if m.year == year else None
    m = conn.execute(
        sa.select(committee_meetings.c.year, orgs.c.code)
        .select_from(committee_meetings.join(orgs, orgs.c.id == committee_meetings.c.org_id))
        .where(committee_meetings.c.id == row.committee_meeting_id)
    ).one()
    return resolve_meeting(conn, year=year, own=m.code) if m.year == year else None


def enter_paper_ballots(
    db: Database, *, year: int, file: Path, now: datetime, organizer: str | None = None, own: str | None = None,
    by: str = "cli",
) -> dict[str, Any]:
    """Paper forms in bulk: CSV/XLSX with one column per presenting organization's code and one row per form
    (a blank cell is an abstention). All or nothing; every bad row is named."""
    from services.tabular import read_rows

    rows = list(read_rows(file))
    if not rows:
        raise BadInput("ballots.file_empty", name=file.name)
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        presenting = presenting_cycles(conn, ref)
        by_code = {c.code: c.id for c in presenting}
        header_number, header = rows[0]
        problems: list[str] = []
        columns: list[str | None] = []
        for name in header:
            if name.lower() in {"", "ballot", "序号", "no", "编号"}:
                columns.append(None)
            elif name in by_code:
                columns.append(name)
            else:
                problems.append(row_problem(header_number, "ballot_row.not_presenting", org=name[:40], organizer=ref.label))
                columns.append(None)
        if not any(columns) and not problems:
            problems.append(row_problem(header_number, "ballot_row.no_presenter", codes=", ".join(by_code)))
        increments: dict[tuple[int, str], int] = {}
        forms = 0
        for number, cells in rows[1:]:
            ballot: dict[str, Any] = {}
            for column, value in zip(columns, cells, strict=False):
                if column and value.strip():
                    ballot[column] = value
            if not ballot:
                continue
            try:
                chosen = _validate_ballot(ballot, by_code, number, ref.label)
            except BadInput as error:
                problems.extend(error.problems)
                continue
            forms += 1
            for cycle_id, rating in chosen.items():
                increments[(cycle_id, rating)] = increments.get((cycle_id, rating), 0) + 1
        if problems:
            raise BadInput("file.rows", name=file.name, count=len(problems), problems=problems)
        if forms == 0:
            raise BadInput("ballots.no_forms", name=file.name)
        frozen = _frozen_cycle_ids(conn, sorted({c for c, _ in increments}))
        if frozen:
            names = ", ".join(c.code for c in presenting if c.id in frozen)
            raise Refused("ballot.closed", names=names)
        _add_counts(conn, list(by_code.values()), increments)
        conn.execute(ballot_batches.insert().values(
            **ref.column_values(), channel="paper", count=forms, at=to_db_time(now), by=by,
            sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        ))
    return {"meeting": ref.organizer_code, "entered": forms}


def _live_counts(conn: sa.Connection, cycle_ids: list[int]) -> dict[int, dict[str, int]]:
    result: dict[int, dict[str, int]] = {c: {} for c in cycle_ids}
    if cycle_ids:
        for r in conn.execute(
            sa.select(ballot_counts.c.cycle_id, ballot_counts.c.rating, ballot_counts.c.n)
            .where(ballot_counts.c.cycle_id.in_(cycle_ids))
        ):
            result[r.cycle_id][r.rating] = r.n
    return result


def _electorate(conn: sa.Connection, ref: MeetingRef) -> int:
    """Who could vote: the attendees registered, else the ballots handed out (codes issued + paper forms)."""
    attendees = attendee_count(conn, ref)
    if attendees:
        return attendees
    issued = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ballot_batches.c.count), 0)).where(ref.owner_clause(ballot_batches))
    ).scalar_one()
    return int(issued)


def quorum_of(conn: sa.Connection, ref: MeetingRef, rules: BallotRules) -> int:
    if rules.quorum is not None:
        return rules.quorum
    return math.ceil(_electorate(conn, ref) * rules.quorum_ratio - 1e-9)


def meeting_tally(conn: sa.Connection, ref: MeetingRef) -> list[dict[str, Any]]:
    """Each presenting secretary's tally: frozen once their evaluation closed, live before."""
    rules = ballot_rules(conn, ref.year)
    presenting = presenting_cycles(conn, ref)
    ids = [c.id for c in presenting]
    frozen = {r.cycle_id: r for r in conn.execute(sa.select(ballot_tallies).where(ballot_tallies.c.cycle_id.in_(ids)))} if ids else {}
    live = _live_counts(conn, ids)
    quorum = quorum_of(conn, ref, rules)
    entries = []
    for c in presenting:
        stored = frozen.get(c.id)
        if stored is not None:
            entry = {"ballots": stored.ballots, "counts": {r: int(stored.counts.get(r, 0)) for r in RATINGS},
                     "satisfaction": stored.satisfaction, "score": stored.score}
            entry_quorum, met = stored.quorum, bool(stored.quorum_met)
        else:
            entry = compute_tally_entry(live[c.id], rules)
            entry_quorum, met = quorum, entry["ballots"] >= quorum
        entries.append({"org": c.code, **entry, "name": c.name, "quorum": entry_quorum, "quorum_met": met,
                        "frozen": stored is not None})
    return entries


def tally(db: Database, *, year: int, organizer: str | None = None, own: str | None = None) -> list[dict[str, Any]]:
    """results.md: [{"org","ballots","counts","satisfaction","score"}] plus name, quorum, quorum_met, frozen."""
    with db.connect() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        return meeting_tally(conn, ref)


def freeze_tally(conn: sa.Connection, cycle: sa.Row[Any], now: datetime) -> None:
    """Hook on `close_evaluation`: this secretary's tally is fixed; later ballots for them are refused."""
    from services.meetings import meeting_of_cycle

    if _frozen_cycle_ids(conn, [cycle.id]):
        return
    ref = meeting_of_cycle(conn, cycle)
    rules = ballot_rules(conn, cycle.year)
    entry = compute_tally_entry(_live_counts(conn, [cycle.id])[cycle.id], rules)
    quorum = quorum_of(conn, ref, rules) if ref is not None else (rules.quorum or 0)
    conn.execute(ballot_tallies.insert().values(
        cycle_id=cycle.id, ballots=entry["ballots"], counts=entry["counts"], satisfaction=entry["satisfaction"],
        score=entry["score"], quorum=quorum, quorum_met=entry["ballots"] >= quorum, frozen_at=to_db_time(now),
    ))


def cycle_tally(conn: sa.Connection, cycle_id: int, year: int) -> dict[str, Any]:
    """One cycle's tally (frozen if closed, else live), for feedback notices and publication."""
    stored = conn.execute(sa.select(ballot_tallies).where(ballot_tallies.c.cycle_id == cycle_id)).first()
    if stored is not None:
        return {"ballots": stored.ballots, "counts": {r: int(stored.counts.get(r, 0)) for r in RATINGS},
                "satisfaction": stored.satisfaction, "score": stored.score, "frozen": True}
    entry = compute_tally_entry(_live_counts(conn, [cycle_id])[cycle_id], ballot_rules(conn, year))
    return {**entry, "frozen": False}


def evaluation_scores(db: Database, *, year: int) -> dict[str, float]:
    """Org code → ballot score (0–100) of its `upward` cycle: frozen tally if closed, else live; ≥ 1 ballot only.

    The contract issue 5 (results) computes the composite from.
    """
    with db.connect() as conn:
        if conn.execute(sa.select(years.c.year).where(years.c.year == year)).first() is None:
            raise NotFound("year.not_launched", year=year)
        rules = ballot_rules(conn, year)
        frozen_rows = conn.execute(
            sa.select(orgs.c.code, ballot_tallies.c.ballots, ballot_tallies.c.score)
            .select_from(ballot_tallies.join(cycles, cycles.c.id == ballot_tallies.c.cycle_id)
                         .join(orgs, orgs.c.id == cycles.c.org_id))
            .where(cycles.c.year == year, cycles.c.kind == "upward")
        )
        scores: dict[str, float] = {}
        frozen_codes: set[str] = set()
        for r in frozen_rows:
            frozen_codes.add(r.code)
            if r.ballots and r.score is not None:
                scores[r.code] = float(r.score)
        live: dict[str, dict[str, int]] = {}
        for r in conn.execute(
            sa.select(orgs.c.code, ballot_counts.c.rating, ballot_counts.c.n)
            .select_from(ballot_counts.join(cycles, cycles.c.id == ballot_counts.c.cycle_id)
                         .join(orgs, orgs.c.id == cycles.c.org_id))
            .where(cycles.c.year == year, cycles.c.kind == "upward")
        ):
            if r.code not in frozen_codes:
                live.setdefault(r.code, {})[r.rating] = r.n
        for code, counts in live.items():
            entry = compute_tally_entry(counts, rules)
            if entry["ballots"]:
                scores[code] = float(entry["score"])
        return scores


def close_evaluation(
    db: Database, *, year: int, now: datetime, organizer: str | None = None, own: str | None = None, by: str = "cli",
    hooks: Any = (),
) -> dict[str, Any]:
    """Fire `close_evaluation` for every presenting secretary who has presented (each in its own transaction;
    the hook freezes their tally). Those who have not presented are listed as skipped."""
    from services.cycles import fire_event

    with db.connect() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        presenting = presenting_cycles(conn, ref)
    closed: list[str] = []
    skipped: list[str] = []
    kind = "upward" if ref.kind == "upward" else "own_level"
    for cycle in presenting:
        if cycle.state == "presented":
            fire_event(db, year=year, org=cycle.code, event="close_evaluation", kind=kind, now=now, by=by, hooks=hooks)
            closed.append(cycle.code)
        elif cycle.state in ("researching", "drafting", "submitted", "revising", "approved"):
            skipped.append(cycle.code)
    return {"meeting": ref.organizer_code, "closed": closed, "skipped": skipped}


UNKNOWN_CODE = "ballot.unknown_or_used"  # one answer for an unknown and a spent code
_CODE_STATEMENT: list[Any] = []


def _code_statement() -> Any:
    """A code's row with its meeting's year and organizer, built once (its construction cost more than the query)."""
    if not _CODE_STATEMENT:
        from storage.tables.core import meetings
        from storage.tables.review import committee_meetings

        organizer = orgs.alias("organizer")
        committee_org = orgs.alias("committee_org")
        _CODE_STATEMENT.append(
            sa.select(ballot_codes.c.meeting_id, ballot_codes.c.committee_meeting_id, ballot_codes.c.used,
                      sa.func.coalesce(meetings.c.year, committee_meetings.c.year).label("year"),
                      sa.func.coalesce(organizer.c.id, committee_org.c.id).label("org_id"),
                      sa.func.coalesce(organizer.c.code, committee_org.c.code).label("org_code"),
                      sa.func.coalesce(organizer.c.name, committee_org.c.name).label("org_name"))
            .select_from(ballot_codes
                         .outerjoin(meetings, meetings.c.id == ballot_codes.c.meeting_id)
                         .outerjoin(organizer, organizer.c.id == meetings.c.organizer_id)
                         .outerjoin(committee_meetings, committee_meetings.c.id == ballot_codes.c.committee_meeting_id)
                         .outerjoin(committee_org, committee_org.c.id == committee_meetings.c.org_id))
            .where(ballot_codes.c.code_hash.in_(sa.bindparam("hashes", expanding=True)))
        )
    return _CODE_STATEMENT[0]


def ballot_of_code(db: Database, *, code: str, key: bytes | None = None) -> dict[str, Any]:
    """What a `/vote/<code>` page shows: the meeting and its presenters, for a code not yet spent (read only).
    An unknown, spent or malformed code is NotFound with one and the same message."""
    cleaned = clean_code(code)
    if len(cleaned) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in cleaned):
        raise NotFound(UNKNOWN_CODE)
    with db.connect() as conn:  # one read for the code and its meeting (the vote page is opened by every attendee)
        row = conn.execute(_code_statement(), {"hashes": candidate_hashes(code, key)}).first()
        if row is None or row.used or row.year is None:
            raise NotFound(UNKNOWN_CODE)
        year = int(row.year)
        if row.meeting_id is not None:
            ref = MeetingRef("upward", row.meeting_id, year, row.org_id, row.org_code, row.org_name)
        else:
            ref = MeetingRef("own_level", row.committee_meeting_id, year, row.org_id, row.org_code, row.org_name)
        presenting = presenting_cycles(conn, ref)
        frozen = _frozen_cycle_ids(conn, [c.id for c in presenting])
        return {"year": year, "meeting": ref.organizer_code, "meeting_name": ref.organizer_name, "kind": ref.kind,
                "presenters": [{"org": c.code, "name": c.name, "secretary": c.secretary, "closed": c.id in frozen,
                                "votable": c.state == "presented" and c.id not in frozen}
                               for c in presenting],
                "ratings": list(RATINGS)}


def vote_with_code(db: Database, *, code: str, ratings: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """Cast a ballot from the `/vote/<code>` page or API: unknown or spent → NotFound (the same answer for both,
    also when another phone spent it a moment earlier); the code is spent in the transaction that adds the counts."""
    ballot = ballot_of_code(db, code=code, key=key)
    if not isinstance(ratings, dict) or not ratings:
        raise BadInput("ballots.rate_everyone")
    try:
        return cast_ballot(db, year=ballot["year"], code=code, ratings=ratings, key=key)
    except Refused as refused:
        if refused.code == "ballot.closed":
            raise
        raise NotFound(UNKNOWN_CODE) from None


def ballots_received(db: Database, *, year: int, organizer: str | None = None, own: str | None = None) -> dict[str, Any]:
    """The organizer's live count: codes issued and spent, paper forms entered (counts only, nothing per ballot)."""
    with db.connect() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        issued = conn.execute(sa.select(sa.func.count()).select_from(ballot_codes).where(ref.owner_clause(ballot_codes))).scalar_one()
        spent = conn.execute(sa.select(sa.func.count()).select_from(ballot_codes)
                             .where(ref.owner_clause(ballot_codes), ballot_codes.c.used.is_(True))).scalar_one()
        paper = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(ballot_batches.c.count), 0))
                             .where(ref.owner_clause(ballot_batches), ballot_batches.c.channel == "paper")).scalar_one()
    return {"meeting": ref.organizer_code, "issued": int(issued), "received": int(spent) + int(paper),
            "by_code": int(spent), "paper": int(paper)}


def qr_sheet_svg(codes: list[str], base_url: str, *, title: str = "") -> str:
    """One printable SVG sheet: a QR code per ballot code, each opening BASE/vote/CODE, the code printed under it."""
    import html as html_lib

    import segno

    cell, per_row, scale = 230, 3, 5
    parts = []
    for index, code in enumerate(codes):
        qr = segno.make(f"{base_url.rstrip('/')}/vote/{code}", error="m")
        width = qr.symbol_size(scale=scale, border=2)[0]
        x, y = (index % per_row) * cell + (cell - width) // 2, (index // per_row) * (cell + 30) + 40
        matrix_path = _qr_path(qr, scale)
        parts.append(f'<g transform="translate({x},{y})"><rect width="{width}" height="{width}" fill="#fff"/>'
                     f'<path d="{matrix_path}" fill="#000"/></g>'
                     f'<text x="{(index % per_row) * cell + cell // 2}" y="{y + width + 18}" text-anchor="middle" '
                     f'font-family="monospace" font-size="16">{html_lib.escape(code)}</text>')
    rows = (len(codes) + per_row - 1) // per_row
    height = rows * (cell + 30) + 50
    heading = f'<text x="10" y="24" font-size="18">{html_lib.escape(title)}</text>' if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{per_row * cell}" height="{height}" '
            f'viewBox="0 0 {per_row * cell} {height}"><rect width="100%" height="100%" fill="#fff"/>{heading}'
            + "".join(parts) + "</svg>")


def _qr_path(qr: Any, scale: int) -> str:
    """The dark modules of a QR code (with its quiet zone) as one SVG path."""
    out = []
    for y, row in enumerate(qr.matrix_iter(scale=1, border=2)):
        for x, dark in enumerate(row):
            if dark:
                out.append(f"M{x * scale},{y * scale}h{scale}v{scale}h-{scale}z")
    return "".join(out)


def qr_svg(url: str) -> str:
    """One QR code as inline SVG markup (for the HTML sheet)."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, nl=False, omitsize=True)
    return buffer.getvalue().decode("utf-8")
