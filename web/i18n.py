"""Labels of the console: Chinese by default, English with ?lang=en or an English Accept-Language."""

from __future__ import annotations

import re

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
    "no_admin_actions": ("您的角色没有管理操作", "Your role has no admin actions"),
    "plan_toml": ("年度方案（TOML）", "Plan (TOML)"),
    "plan_file": ("或上传方案文件", "or a plan file"),
    "organizer_code": ("会议组织单位编码", "Organizer code"),
    "new_date": ("新日期", "New date"),
    "meeting_organizer": ("会议组织单位", "Meeting organizer"),
    "back": ("返回", "Back"),
    "e403": ("无权操作", "Not allowed"),
    "e404": ("未找到", "Not found"),
    "e409": ("操作被拒绝", "Refused"),
    "e413": ("文件过大", "Too large"),
    "e422": ("输入有误", "Bad input"),
    "e500": ("出错了", "Something went wrong"),
    "no_actions": ("您当前没有可执行的操作", "Nothing you may do here now"),
    "not_configured": ("未配置 Prefect 服务（PREFECT_API_URL）", "Prefect is not configured (PREFECT_API_URL)"),
}

# audit log: actions and outcomes as an operator reads them (the stored values stay English identifiers)
AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "login": ("登录", "sign in"), "logout": ("退出", "sign out"), "fire": ("流程操作", "cycle action"),
    "import_orgs": ("导入组织架构", "import the tree"), "start_year": ("启动年度述职", "launch a year"),
    "move_meeting": ("调整会议日期", "move a meeting"), "issue_ballots": ("发放测评码", "issue ballot codes"),
    "remind": ("立即提醒", "remind now"), "add_user": ("创建账户", "create an account"),
    "manage_users": ("管理账户", "manage accounts"), "edit_user": ("修改账户", "edit an account"),
    "force_sms": ("改为短信登录", "switch to SMS sign-in"), "reset_password": ("重置密码", "reset a password"),
    "revoke_tokens": ("吊销 API 令牌", "revoke API tokens"), "reveal_phone": ("查看完整手机号", "reveal a phone number"),
    "export": ("导出", "export"), "remind_bulk": ("批量提醒", "bulk reminder"), "read": ("查看", "read"),
    "act_on_behalf": ("代为办理", "act on behalf"), "attach_report": ("上传述职报告", "upload a report"),
    "attendance": ("登记参会人员", "register attendees"), "open_meeting": ("召开述职评议会", "open a meeting"),
    "close_evaluation": ("结束测评", "close the evaluation"), "comment": ("点评", "comment"),
    "rectification": ("整改方案", "rectification plan"), "otp_request": ("获取短信验证码", "request an SMS code"),
    "otp_verify": ("短信验证码登录", "sign in by SMS code"), "view_audit": ("查看审计日志", "view the audit log"),
}
AUDIT_OUTCOMES: dict[str, tuple[str, str]] = {
    "ok": ("成功", "ok"), "denied": ("无权操作", "denied"), "failed": ("失败", "failed"), "refused": ("被拒绝", "refused"),
    "locked": ("已锁定", "locked"),
}
# audit details are stored as written (English identifiers, `key=value`); the Chinese log reads them out
AUDIT_FIELDS = {"role": "角色", "scope": "范围", "active": "启用", "year": "年度", "kind": "述职类型", "level": "层级",
                "step": "环节", "overdue": "已逾期", "under": "范围", "days_late": "逾期天数", "returned": "退回未重报",
                "q": "搜索", "category": "类别", "format": "格式"}
AUDIT_PHRASES = (
    (re.compile(r"(\d[\d,]*) units?, (\d[\d,]*) messages?"), r"\1 个单位，\2 条消息"),
    (re.compile(r"locked until (\S+)"), r"锁定至 \1"),
    (re.compile(r"^lagging export\b"), "导出滞后单位"),
    (re.compile(r"\(no year launched: nothing to send through\)"), "（尚无启动的年度，未发送）"),
)
# keys of an admin action's result, as shown on the admin page
RESULT_KEYS: dict[str, tuple[str, str]] = {
    "imported": ("新导入", "imported"), "updated": ("已更新", "updated"), "unchanged": ("未变化", "unchanged"),
    "year": ("年度", "year"), "created": ("新建述职流程", "cycles created"), "existing": ("已有述职流程", "cycles existing"),
    "meetings_created": ("新建述职评议会", "meetings created"), "meetings_existing": ("已有述职评议会", "meetings existing"),
    "organizations": ("参与单位", "organizations"), "relaunch": ("再次启动", "relaunch"),
    "created_by_kind": ("按类型新建", "created by kind"), "organizer": ("会议组织单位", "organizer"),
    "from": ("原日期", "from"), "to": ("新日期", "to"), "cycles": ("受影响的述职流程", "cycles"),
    "codes": ("测评码", "codes"), "count": ("数量", "count"), "moved": ("已调整", "moved"),
}

# steps that are not a cycle's but appear in notices (issue 3's work-plan reminder to an organizer)
EXTRA_STEPS = {"work_plan": "报送工作方案"}
BEHALF_MARK = "代为办理"
# account roles in English (services.accounts.ROLE_LABELS holds the Chinese)
EN_ROLES = {"admin": "administrator", "org_department": "organization department", "reviewer": "reviewer (party committee)",
            "secretary": "secretary", "viewer": "read-only"}
EN_STATES = {s: s.replace("_", " ") for s in STATE_LABELS}
EN_LEVELS = {Level.PREFECTURE: "Prefecture", Level.CITY: "City", Level.TOWN: "Towns & city units",
             Level.GRASSROOTS: "Villages, communities & others"}


def say(request: Request, zh: str, en: str) -> str:
    """The Chinese or the English of a message, in the reader's language."""
    return en if language(request) == "en" else zh


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

    def action(self, action: str) -> str:
        pair = AUDIT_ACTIONS.get(action)
        return (pair[1] if self.en else pair[0]) if pair else action.replace("_", " ")

    def outcome(self, outcome: str) -> str:
        pair = AUDIT_OUTCOMES.get(outcome)
        return (pair[1] if self.en else pair[0]) if pair else outcome

    def field(self, key: str) -> str:
        pair = RESULT_KEYS.get(key)
        return (pair[1] if self.en else pair[0]) if pair else key.replace("_", " ")

    def detail(self, text: str | None) -> str:
        """An audit detail ('2014 V001 upward revise') with its identifiers read out (events, kinds, roles)."""
        if not text:
            return ""
        text = str(text)
        if self.en:  # the mark an act on behalf leaves in the history and the audit (web.operator)
            text = text.replace(BEHALF_MARK, "on behalf")
        if not self.en:
            for pattern, chinese in AUDIT_PHRASES:
                text = pattern.sub(chinese, text)
        words = []
        for word in text.split(" "):
            if not self.en and ("=" in word and not word.startswith("=")):
                words.append("，".join(self._field(pair) for pair in word.split("&")))
            else:
                words.append(self._word(word))
        return " ".join(words)

    def _word(self, word: str) -> str:
        if word in EVENT_LABELS:
            return self.event(word)
        if word in ("upward", "own_level"):
            return self(word)
        return word

    def _field(self, pair: str) -> str:
        """`role=reviewer` → 角色=审核（党委）; `active=False` → 启用=否."""
        key, _, value = pair.partition("=")
        tail = value[len(value.rstrip(":：,，;；")):]
        value = value[: len(value) - len(tail)]
        from services.accounts import ROLE_LABELS

        if key in ("active", "overdue", "returned"):
            shown = {"True": "是", "False": "否", "1": "是", "0": "否"}.get(value, value)
        else:
            shown = ROLE_LABELS.get(value, value) if key == "role" else self._word(value)
        return f"{AUDIT_FIELDS.get(key, key)}={shown}{'：' if tail.startswith(':') else tail}"

    def value(self, value: object) -> str:
        """A result value: booleans as 是/否, tables of kind → count with the kinds' labels."""
        if isinstance(value, bool):
            return ("yes" if value else "no") if self.en else ("是" if value else "否")
        if isinstance(value, dict):
            return (", " if self.en else "，").join(f"{self(str(k)) if k in ('upward', 'own_level') else self.kind(str(k))} {v}"
                            for k, v in value.items()) or "—"
        return str(value)

    def outbox_status(self, status: str | None) -> str:
        from services.outbox import STATUS_LABELS, outbox_label

        return outbox_label(STATUS_LABELS, status, self.lang)

    def channel(self, channel: str | None) -> str:
        from services.outbox import CHANNEL_LABELS, outbox_label

        return outbox_label(CHANNEL_LABELS, channel, self.lang)

    def template(self, template: str | None) -> str:
        from services.outbox import TEMPLATE_LABELS, outbox_label

        return outbox_label(TEMPLATE_LABELS, template, self.lang)

    @property
    def outbox_statuses(self) -> tuple[str, ...]:
        from services.outbox import STATUSES

        return STATUSES

    def level(self, level: int) -> str:
        return EN_LEVELS[Level(level)] if self.en else LEVEL_LABELS[Level(level)]
