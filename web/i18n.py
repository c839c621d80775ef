"""Labels of the console: Chinese by default, English with ?lang=en or an English Accept-Language."""

from __future__ import annotations

from fastapi import Request

from states.machine import EVENT_LABELS, STATE_LABELS, STEP_LABELS
from states.orgs import KIND_LABELS, LEVEL_LABELS, Level

TEXT: dict[str, tuple[str, str]] = {
    "app": ("述职评议考核", "Report & evaluation"),
    "overview": ("年度总览", "Overview"),
    "tree": ("组织树", "Organization tree"),
    "lagging": ("滞后单位", "Lagging units"),
    "outbox": ("消息发送", "Outbox"),
    "results": ("考核结果", "Results"),
    "flows": ("流程运行", "Flow runs"),
    "admin": ("管理", "Admin"),
    "users": ("账户", "Accounts"),
    "audit": ("审计日志", "Audit log"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "name": ("用户名", "Name"),
    "password": ("密码", "Password"),
    "funnel": ("各层级进度", "Progress by level"),
    "total": ("合计", "Total"),
    "open": ("进行中", "Open"),
    "overdue": ("已逾期", "Overdue"),
    "coming": ("近期截止", "Coming deadlines"),
    "due": ("截止日期", "Due"),
    "step": ("待办环节", "Step owed"),
    "state": ("状态", "State"),
    "count": ("数量", "Count"),
    "org": ("单位", "Unit"),
    "code": ("编码", "Code"),
    "kind": ("类型", "Kind"),
    "secretary": ("书记", "Secretary"),
    "meeting": ("述职会议", "Meeting"),
    "subtree": ("下级情况", "Below"),
    "history": ("流转记录", "History"),
    "deadlines": ("各环节截止", "Deadlines"),
    "actions": ("操作", "Actions"),
    "note": ("说明/理由", "Note / reason"),
    "remind": ("立即提醒", "Remind now"),
    "upward": ("向上级述职", "To the superior"),
    "own_level": ("向本级述职", "To own committee"),
    "import_tree": ("导入组织架构", "Import the tree"),
    "launch_year": ("启动年度述职", "Launch a year"),
    "move_meeting": ("调整会议日期", "Move a meeting"),
    "issue_ballots": ("发放测评码", "Issue ballot codes"),
    "submit_btn": ("提交", "Submit"),
    "none": ("暂无", "None"),
    "no_lagging": ("没有滞后单位，各单位均按期推进", "Nobody is lagging"),
    "no_coming": ("两周内没有到期的环节", "Nothing falls due in the next two weeks"),
    "year": ("年度", "Year"),
    "reports": ("述职报告版本", "Report versions"),
    "tally": ("测评结果", "Ballot tally"),
    "rectification": ("整改事项", "Rectification items"),
    "comment": ("会议点评", "Comment"),
    "checker": ("自动预审", "Checker"),
    "no_findings": ("自动预审未发现问题", "the checker found nothing"),
    "no_reports": ("尚未报送述职报告", "No report submitted yet"),
    "no_comment": ("尚未在述职会议上点评", "Not commented at a meeting yet"),
    "no_comment_yet": ("已述职，尚未录入点评", "Presented; no comment recorded"),
    "no_tally": ("尚无测评票", "No ballots yet"),
    "feedback": ("反馈意见", "Feedback notice"),
    "show_notice": ("查看反馈通知全文", "Show the notice"),
    "no_feedback": ("尚未反馈", "No feedback given yet"),
    "commitment": ("公开承诺", "Public commitment"),
    "no_rectification": ("尚无整改事项", "No rectification items yet"),
    "role": ("角色", "Role"),
    "scope": ("范围", "Scope"),
    "returns": ("退回次数", "Returns"),
    "no_actions": ("您当前没有可执行的操作", "Nothing you may do here now"),
    "not_configured": ("未配置 Prefect 服务（PREFECT_API_URL）", "Prefect is not configured (PREFECT_API_URL)"),
}

# steps that are not a cycle's but appear in notices (issue 3's work-plan reminder to an organizer)
EXTRA_STEPS = {"work_plan": "报送工作方案"}
EN_STATES = {s: s.replace("_", " ") for s in STATE_LABELS}
EN_LEVELS = {Level.PREFECTURE: "Prefecture", Level.CITY: "City", Level.TOWN: "Towns & city units",
             Level.GRASSROOTS: "Villages, communities & others"}


def language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in ("zh", "en"):
        request.session["lang"] = chosen
        return chosen
    stored = request.session.get("lang")
    if stored in ("zh", "en"):
        return str(stored)
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "zh"


class Labels:
    """Template helpers for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.en = lang == "en"

    def __call__(self, key: str) -> str:
        zh, en = TEXT.get(key, (key, key))
        return en if self.en else zh

    def state(self, state: str | None) -> str:
        if not state:
            return "—"
        return EN_STATES.get(state, state) if self.en else STATE_LABELS.get(state, state)

    def step(self, step: str | None) -> str:
        if not step:
            return "—"
        return step.replace("_", " ") if self.en else STEP_LABELS.get(step) or EXTRA_STEPS.get(step, step)

    def event(self, event: str) -> str:
        return event.replace("_", " ") if self.en else EVENT_LABELS.get(event, event)

    def kind(self, kind: str) -> str:
        return kind.replace("_", " ") if self.en else KIND_LABELS.get(kind, kind)

    def level(self, level: int) -> str:
        return EN_LEVELS[Level(level)] if self.en else LEVEL_LABELS[Level(level)]
