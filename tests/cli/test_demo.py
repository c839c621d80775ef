"""`shuzhi demo` runs a whole season end to end, as `make demo` does on a fresh machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.tables.core import cycles


@pytest.mark.slow
def test_demo_runs_the_whole_season(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "demo"
    code, out, err = cli("demo", "--folder", str(folder))
    assert code == 0, err
    for stage in ("一、导入组织架构", "市委（扩大）会述职评议之后", "反馈与整改", "向本级党组织述职", "差额否决", "本年度小结"):
        assert stage in out
    night = re.search(r"邮件即时发出 (\d+) 条，短信 (\d+) 条待免打扰时段", out)
    assert night and int(night.group(1)) > 0 and int(night.group(2)) > 0  # email at once, SMS held overnight
    assert "升级督办" in out
    # the outbox counts by status in Chinese labels, the console's own (no English keys)
    assert re.search(r"消息发件箱：待发送 \d+，发送中 \d+，已发送 \d+，发送失败 \d+，已取消 \d+（", out)
    assert "cancelled" not in out and "queued" not in out
    sink = list((folder / "sink").glob("*.txt"))
    assert any(p.name.startswith("sms-") for p in sink) and any(p.name.startswith("email-") for p in sink)
    assert (folder / "T01-summary.docx").stat().st_size > 0
    db = Database(f"sqlite:///{folder / 'shuzhi.db'}")
    with db.connect() as conn:
        states = dict(conn.execute(sa.select(cycles.c.state, sa.func.count()).where(cycles.c.kind == "upward")
                                   .group_by(cycles.c.state)).all())
        returns = conn.execute(sa.select(sa.func.sum(cycles.c.returns))).scalar()
    db.dispose()
    assert states == {"closed": sum(states.values())}  # every upward cycle went all the way
    assert returns and returns > 10  # self-praising reports were returned
    assert "admin" in out and "web" in out  # how to open it in the console
