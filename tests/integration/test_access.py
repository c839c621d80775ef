"""Identity and access services: SMS sign-in codes, provisioning from the tree, password policy, throttling, accounts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.accounts import (
    NO_PASSWORD,
    SignInLocked,
    TooManyAttempts,
    account_for_token,
    authenticate,
    create_user,
    force_sms_sign_in,
    issue_sign_in_token,
    list_audit,
    password_problems,
    reset_password,
    revoke_tokens,
    update_user,
)
from services.clock import parse_when
from services.errors import BadInput, PermissionDenied, Refused
from services.orgs import import_orgs
from services.otp import AccountChoiceNeeded, code_digest, request_code, verify_code
from services.provisioning import provision_accounts
from storage.db import Database
from storage.tables.core import orgs
from storage.tables.notify import outbox
from storage.tables.web import otp_codes, web_users
from tests.conftest import SAMPLE_ORGS, launch_sample

NOW = parse_when("2014-12-08T10:00:00+08:00")
SECRET = "a-test-secret-of-enough-length-0123456789"
GOOD = "correct-horse-1"


def _sent_code(db: Database, phone: str) -> str:
    """The code as the SMS carries it: read from the outbox row the dispatcher would send."""
    with db.connect() as conn:
        note = conn.execute(sa.select(outbox.c.note).where(outbox.c.template == "otp", outbox.c.address == phone)
                            .order_by(outbox.c.id.desc())).scalars().first()
    assert note, "no code queued"
    return str(note)


@pytest.fixture
def season(sqlite_db: Database, tmp_path: Path) -> Database:
    launch_sample(sqlite_db, now=NOW, tmp_path=tmp_path)
    create_user(sqlite_db, "v001", "secretary", None, scope="V001", phone="13900000011")
    return sqlite_db


# --- one-time codes ---------------------------------------------------------------------------------------------

def test_otp_code_signs_in_once_and_is_stored_as_a_keyed_hash(season: Database) -> None:
    request_code(season, "+86 139-0000-0011", now=NOW, secret=SECRET)
    code = _sent_code(season, "13900000011")
    assert len(code) == 6 and code.isdigit()
    with season.connect() as conn:
        stored = conn.execute(sa.select(otp_codes)).one()
    assert stored.code_hash == code_digest(SECRET, "13900000011", code) and code not in stored.code_hash
    account = verify_code(season, "13900000011", code, now=NOW + timedelta(minutes=1), secret=SECRET)
    assert account.name == "v001"
    with season.connect() as conn:  # the code leaves the outbox once used
        assert conn.execute(sa.select(outbox.c.note).where(outbox.c.template == "otp")).scalar() == ""
    # reuse: the same answer as a wrong code
    with pytest.raises(BadInput, match="验证码错误或已过期"):
        verify_code(season, "13900000011", code, now=NOW + timedelta(minutes=2), secret=SECRET)


def test_otp_expires_after_five_minutes(season: Database) -> None:
    request_code(season, "13900000011", now=NOW, secret=SECRET)
    code = _sent_code(season, "13900000011")
    with pytest.raises(BadInput, match="验证码错误或已过期"):
        verify_code(season, "13900000011", code, now=NOW + timedelta(minutes=5, seconds=1), secret=SECRET)
    request_code(season, "13900000011", now=NOW + timedelta(minutes=6), secret=SECRET)
    with season.connect() as conn:  # the expired code was scrubbed from the outbox
        notes = conn.execute(sa.select(outbox.c.note, outbox.c.status).where(outbox.c.template == "otp").order_by(outbox.c.id)).all()
    assert notes[0] == ("", "cancelled") and notes[1][0] != ""


def test_otp_rate_limit_one_a_minute_five_an_hour(season: Database) -> None:
    request_code(season, "13900000011", now=NOW, secret=SECRET)
    with pytest.raises(TooManyAttempts):
        request_code(season, "13900000011", now=NOW + timedelta(seconds=30), secret=SECRET)
    for minute in range(1, 5):
        request_code(season, "13900000011", now=NOW + timedelta(minutes=minute * 2), secret=SECRET)
    with pytest.raises(TooManyAttempts, match="每小时最多"):
        request_code(season, "13900000011", now=NOW + timedelta(minutes=20), secret=SECRET)
    request_code(season, "13900000011", now=NOW + timedelta(minutes=61), secret=SECRET)


def test_otp_five_wrong_codes_lock_the_phone_for_fifteen_minutes(season: Database) -> None:
    request_code(season, "13900000011", now=NOW, secret=SECRET)
    code = _sent_code(season, "13900000011")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(BadInput):
            verify_code(season, "13900000011", wrong, now=NOW, secret=SECRET)
    with pytest.raises(SignInLocked):
        verify_code(season, "13900000011", wrong, now=NOW, secret=SECRET)
    with pytest.raises(SignInLocked):  # even the right code, while locked
        verify_code(season, "13900000011", code, now=NOW + timedelta(minutes=4), secret=SECRET)
    with pytest.raises(SignInLocked):
        request_code(season, "13900000011", now=NOW + timedelta(minutes=14), secret=SECRET)
    request_code(season, "13900000011", now=NOW + timedelta(minutes=15, seconds=1), secret=SECRET)
    fresh = _sent_code(season, "13900000011")
    assert verify_code(season, "13900000011", fresh, now=NOW + timedelta(minutes=16), secret=SECRET).name == "v001"


def test_otp_unknown_phone_gets_the_same_answer_and_no_message(season: Database) -> None:
    request_code(season, "13700000000", now=NOW, secret=SECRET)  # no account: no error either
    with pytest.raises(TooManyAttempts):  # and the same rate limit as a known phone
        request_code(season, "13700000000", now=NOW + timedelta(seconds=10), secret=SECRET)
    with season.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(outbox.c.address == "13700000000")).scalar() == 0
    with pytest.raises(BadInput, match="验证码错误或已过期"):
        verify_code(season, "13700000000", "123456", now=NOW, secret=SECRET)
    with pytest.raises(BadInput, match="手机号"):
        request_code(season, "12345", now=NOW, secret=SECRET)


def test_otp_phone_with_two_accounts_asks_which_and_keeps_the_code(season: Database) -> None:
    create_user(season, "review-T01", "reviewer", None, scope="T01", phone="13900000011")
    request_code(season, "13900000011", now=NOW, secret=SECRET)
    code = _sent_code(season, "13900000011")
    with pytest.raises(AccountChoiceNeeded) as choice:
        verify_code(season, "13900000011", code, now=NOW, secret=SECRET)
    assert choice.value.names == ["v001", "review-T01"] or set(choice.value.names) == {"v001", "review-T01"}
    assert verify_code(season, "13900000011", code, now=NOW, secret=SECRET, account="review-T01").name == "review-T01"


def test_sign_in_token_expires_and_is_revoked(season: Database) -> None:
    account = verify_after_request(season)
    token = issue_sign_in_token(season, account, now=NOW)
    assert account_for_token(season, token, now=NOW + timedelta(hours=7)) is not None
    assert account_for_token(season, token, now=NOW + timedelta(hours=9)) is None
    assert revoke_tokens(season, "v001") == 1
    assert account_for_token(season, token, now=NOW) is None


def verify_after_request(db: Database) -> object:
    request_code(db, "13900000011", now=NOW, secret=SECRET)
    return verify_code(db, "13900000011", _sent_code(db, "13900000011"), now=NOW, secret=SECRET)


# --- provisioning -----------------------------------------------------------------------------------------------

def _users(db: Database) -> dict[str, tuple[str, str, bool, str | None]]:
    with db.connect() as conn:
        return {r.name: (r.role, r.scope, bool(r.active), r.phone) for r in conn.execute(sa.select(web_users))}


def test_provision_creates_one_account_per_unit_idempotently_and_disables_departed(any_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(any_db, path, now=NOW)
    create_user(any_db, "13900000012", "viewer", GOOD)  # a hand-made account holding V002's phone: left alone
    secretaries, reviewers = provision_accounts(any_db, now=NOW)
    # XG is the prefecture: it has no cycle, so no secretary account (its phone 13900000000 makes none)
    assert (secretaries.candidates, secretaries.created, secretaries.conflicts, secretaries.no_phone) == (6, 5, 1, 2)
    assert "13900000000" not in _users(any_db)
    assert (reviewers.candidates, reviewers.created) == (4, 4)  # XG, HC, T01, T02 organize
    users = _users(any_db)
    assert users["13900000011"] == ("secretary", "V001", True, "13900000011")
    assert users["review-T01"] == ("reviewer", "T01", True, "13900000002")
    assert users["13900000012"][0] == "viewer"
    with any_db.connect() as conn:
        assert conn.execute(sa.select(web_users.c.password_hash).where(web_users.c.name == "13900000011")).scalar() == NO_PASSWORD

    again = provision_accounts(any_db, now=NOW)
    assert [(r.created, r.updated, r.deactivated) for r in again] == [(0, 0, 0), (0, 0, 0)]
    assert again[0].unchanged == 5 and again[1].unchanged == 4

    # V001's phone changes; C001 leaves the tree
    with any_db.begin() as conn:
        conn.execute(orgs.update().where(orgs.c.code == "V001").values(phone="13900000099"))
        conn.execute(orgs.delete().where(orgs.c.code == "C001"))
    (after,) = provision_accounts(any_db, roles=("secretary",), now=NOW)
    assert (after.created, after.deactivated) == (1, 2)
    users = _users(any_db)
    assert users["13900000011"][2] is False and users["13900000021"][2] is False
    assert users["13900000099"] == ("secretary", "V001", True, "13900000099")


def test_provision_under_a_subtree_touches_only_that_subtree(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(sqlite_db, path, now=NOW)
    (result,) = provision_accounts(sqlite_db, under="T01", roles=("secretary",), now=NOW)
    assert result.created == 3 and set(_users(sqlite_db)) == {"13900000002", "13900000011", "13900000012"}
    (whole,) = provision_accounts(sqlite_db, roles=("secretary",), now=NOW)
    assert (whole.created, whole.unchanged) == (3, 3)  # HC, T02, C001: not the prefecture XG


# --- passwords, throttling, management ---------------------------------------------------------------------------

def test_L9_password_policy_needs_ten_characters_and_not_a_common_one(sqlite_db: Database) -> None:
    assert password_problems("short-pw1")
    assert password_problems("1234567890") and password_problems("Password123")
    assert password_problems("aaaaaaaaaaaa")
    assert not password_problems(GOOD)
    with pytest.raises(BadInput, match="至少 10 个字符"):
        create_user(sqlite_db, "someone", "viewer", "abcdefgh")


def test_M7_wrong_passwords_lock_the_name_with_back_off_and_audit(sqlite_db: Database) -> None:
    create_user(sqlite_db, "admin", "admin", GOOD)
    for _ in range(4):
        with pytest.raises(PermissionDenied):
            authenticate(sqlite_db, "admin", "wrong-password", now=NOW)
    with pytest.raises(PermissionDenied):
        authenticate(sqlite_db, "admin", "wrong-password", now=NOW)  # the fifth earns a 1-minute lock
    with pytest.raises(SignInLocked):
        authenticate(sqlite_db, "admin", GOOD, now=NOW + timedelta(seconds=30))  # the right one waits
    assert authenticate(sqlite_db, "admin", GOOD, now=NOW + timedelta(minutes=1, seconds=1)).name == "admin"
    # failures after a success count afresh; a second lock lasts twice as long only without a success between
    later = NOW + timedelta(minutes=2)
    for _ in range(5):
        with pytest.raises(PermissionDenied):
            authenticate(sqlite_db, "admin", "wrong-password", now=later)
    for _ in range(5):
        with pytest.raises((PermissionDenied, SignInLocked)):
            authenticate(sqlite_db, "admin", "wrong-password", now=later + timedelta(minutes=1, seconds=1))
    with pytest.raises(SignInLocked):
        authenticate(sqlite_db, "admin", GOOD, now=later + timedelta(minutes=2, seconds=30))
    outcomes = {a["outcome"] for a in list_audit(sqlite_db, limit=50)}
    assert {"failed", "locked", "ok"} <= outcomes


def test_L10_a_password_typed_as_the_name_is_not_in_the_audit(sqlite_db: Database) -> None:
    create_user(sqlite_db, "admin", "admin", GOOD)
    with pytest.raises(PermissionDenied):
        authenticate(sqlite_db, GOOD, GOOD, now=NOW, secret=SECRET)
    entry = list_audit(sqlite_db, limit=1)[0]
    assert GOOD not in entry["user"] and GOOD not in entry["detail"] and entry["user"].startswith("?")


def test_last_admin_is_never_demoted_or_disabled(sqlite_db: Database) -> None:
    create_user(sqlite_db, "admin", "admin", GOOD)
    with pytest.raises(Refused, match="最后一个"):
        update_user(sqlite_db, "admin", role="viewer")
    with pytest.raises(Refused, match="最后一个"):
        update_user(sqlite_db, "admin", active=False)
    create_user(sqlite_db, "admin2", "admin", GOOD)
    assert update_user(sqlite_db, "admin", role="viewer").role == "viewer"
    with pytest.raises(Refused):
        update_user(sqlite_db, "admin2", active=False)


def test_reset_and_sms_only_end_sessions(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(sqlite_db, path, now=NOW)
    created = create_user(sqlite_db, "zzb", "org_department", GOOD, phone="13900000001")
    password = reset_password(sqlite_db, "zzb")
    account = authenticate(sqlite_db, "zzb", password, now=NOW)
    assert account.session_epoch == created.session_epoch + 1
    force_sms_sign_in(sqlite_db, "zzb")
    with pytest.raises(PermissionDenied):
        authenticate(sqlite_db, "zzb", password, now=NOW)
    with pytest.raises(BadInput, match="范围"):
        update_user(sqlite_db, "zzb", role="secretary")
    assert update_user(sqlite_db, "zzb", role="secretary", scope="T01").scope == "T01"


def test_cli_users_provision_counts_human_and_json(cli: Any, tmp_path: Path) -> None:
    import json

    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(tmp_path / "orgs.csv"))[0] == 0
    code, out, _ = cli("users", "provision", "--under", "T01", "--role", "secretary")
    assert code == 0 and "书记账户：应有 3，新建 3" in out
    code, out, _ = cli("--json", "users", "provision")
    rows = json.loads(out)
    assert code == 0 and [(r["role"], r["created"], r["unchanged"]) for r in rows] == [("secretary", 3, 3), ("reviewer", 4, 0)]
    code, out, _ = cli("users", "list", "--role", "secretary")
    assert code == 0 and "139****0011" in out and "13900000011" in out  # the login name is the phone; the phone column masked
    assert cli("users", "provision", "--under", "NOPE")[0] == 4
    code, out, _ = cli("users", "edit", "review-T01", "--inactive")
    assert code == 0 and "已停用" in out


def test_cli_users_add_and_edit_answer_in_chinese(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(tmp_path / "orgs.csv"))[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    code, out, _ = cli("users", "add", "admin", "--role", "admin", "--password-stdin")
    assert (code, out.strip()) == (0, "已创建账户 admin（系统管理员）")
    code, out, _ = cli("users", "add", "zhang", "--role", "reviewer", "--scope", "T01", "--sms-only", "--phone", "13900000002")
    assert (code, out.strip()) == (0, "已创建账户 zhang（审核（党委），范围 T01）")
    code, out, _ = cli("users", "edit", "zhang", "--role", "viewer")
    assert code == 0 and out.startswith("已更新 zhang：只读") and "viewer" not in out
