"""Errors services raise; each carries the CLI exit code of cli.md, a message code with its parameters, and,
where useful, a list of problems.

One message catalogue (issue 12 item 7): a service raises `BadInput("plan.year_mismatch", file_year=…, year=…)`;
the CLI, the pages and the API render the code in Chinese (English with `render("en")`, the console's
`?lang=en`). A message that is not a catalogue code is kept as written (older raise sites, other features).
"""

from __future__ import annotations

from typing import Any

# code → (Chinese, English); `{name}` fields come from the error's parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    # plans and years
    "plan.too_large": ("计划文件过大（上限 {limit} KB）", "the plan file is larger than {limit} KB"),
    "plan.not_toml": ("计划文件不是有效的 TOML：{detail}", "plan: not valid TOML ({detail})"),
    "plan.too_deep": ("计划文件嵌套过深", "plan: lists or tables nested too deeply"),
    "plan.invalid": ("计划文件有 {count} 处问题，未作任何更改：{first}", "plan: {count} problem(s), nothing was changed: {first}"),
    "plan.year_mismatch": ("计划文件中的年度为 {file_year}，与所选年度 {year} 不一致",
                           "plan: year = {file_year} in the file, but {year} on the command line"),
    "plan.unknown_organizer": ("meetings.by_organizer.{code}：没有编码为 '{code}' 的组织",
                               "meetings.by_organizer.{code}: no organization with code '{code}'"),
    "year.no_orgs": ("尚无组织：请先导入组织架构（shuzhi orgs import FILE）",
                     "no organizations yet: import the tree first (shuzhi orgs import FILE)"),
    "year.bad": ("年度 '{value}' 不是有效的年份", "year '{value}' is not a valid year"),
    # files and uploads
    "file.missing": ("文件 {name} 不存在", "{name}: no such file"),
    "file.empty": ("文件 {name} 是空的（应有表头 {header}）", "{name}: the file is empty (expected header {header})"),
    "file.type": ("文件 {name} 的类型 '{suffix}' 不受支持（请用 .csv 或 .xlsx）",
                  "{name}: unsupported file type '{suffix}' (use .csv or .xlsx)"),
    "file.encoding": ("文件 {name} 不是 UTF-8 或 GB18030 文本", "{name}: not UTF-8 or GB18030 text"),
    "file.csv_row": ("文件 {name} 第 {row} 行无法按 CSV 读取（{detail}）", "{name}: row {row}: not readable as CSV ({detail})"),
    "file.xlsx": ("无法按 XLSX 读取文件 {name}", "{name}: cannot read as XLSX"),
    "file.header": ("第 1 行：表头缺少列 {missing}；实际为 {got}", "row 1: header lacks column(s) {missing}; got {got}"),
    "file.rows": ("文件 {name} 有 {count} 处问题，未导入任何数据", "{name}: {count} problem(s); nothing was imported"),
    "upload.too_large": ("上传的文件过大（上限 {limit}）", "the upload is larger than {limit}"),
    # reports
    "report.type": ("述职报告 {name} 的类型 '{suffix}' 不受支持（请用 .docx、.md 或 .txt）",
                    "{name}: unsupported report type '{suffix}' (use .docx, .md or .txt)"),
    "report.too_large": ("述职报告 {name} 超过 {limit} MB", "{name}: larger than {limit} MB"),
    "report.empty": ("述职报告 {name} 是空的", "{name}: the report is empty"),
    "report.docx": ("无法按 .docx 读取述职报告 {name}", "{name}: cannot read as .docx"),
    "report.encoding": ("述职报告 {name} 不是 UTF-8 或 GB18030 文本", "{name}: not UTF-8 or GB18030 text"),
    # the clock, kinds, states, events
    "clock.bad": ("'{value}' 不是日期或时间（应为 2014-12-05 或 2014-12-05T09:00）",
                  "'{value}' is not a date or time (2014-12-05 or 2014-12-05T09:00)"),
    "kind.bad": ("述职类型 '{value}' 无效（可选 {choices}）", "kind '{value}' is not one of {choices}"),
    "state.bad": ("状态 '{value}' 无效（可选 {choices}）", "unknown state '{value}'; states: {choices}"),
    "event.bad": ("操作 '{value}' 无效（可选 {choices}）", "unknown event '{value}'; events: {choices}"),
    "org_kind.bad": ("组织类型 '{value}' 无效（可选 {choices}）", "unknown kind '{value}' (one of {choices})"),
    "status.bad": ("发送状态 '{value}' 无效（可选 {choices}）", "status '{value}' is not one of {choices}"),
    "page.bad": ("分页参数有误：起始位置应 ≥ 0，每页条数应在 1 到 500 之间",
                 "offset must be ≥ 0 and limit between 1 and 500"),
    # meetings
    "meeting.date_bad": ("会议日期 '{value}' 不是日期（应为 YYYY-MM-DD）", "'{value}' is not a date (YYYY-MM-DD)"),
    "meeting.outside_season": ("会议日期 {date} 不在 {year} 年度述职期内（{start} 至 {end}）",
                               "{date} is outside the {year} season ({start} to {end})"),
    "meeting.before_own": ("会议日期 {date} 早于 {organizer} 本身述职的会议（{own}）：述职自上而下逐级进行",
                           "{date} is before the meeting at which {organizer} itself reports ({own}): "
                           "the cascade runs top-down"),
    "meeting.after_below": ("会议日期 {date} 晚于 {organizer} 下级单位的会议（{below}）：述职自上而下逐级进行",
                            "{date} is after a meeting of an organization under {organizer} ({below}): "
                            "the cascade runs top-down"),
    "meeting.not_presenting": ("{org} 不在 {organizer} {year} 年度的述职会议上述职",
                               "{org} does not present at {organizer}'s {year} meeting"),
    # ballots
    "ballots.count": ("测评码数量 {count} 应在 1 到 {limit} 之间", "{count} codes: give between 1 and {limit}"),
    # accounts
    "password.short": ("密码至少 {limit} 个字符", "password: at least {limit} characters"),
    # generic field problems
    "field.too_long": ("{field}：长度不能超过 {limit} 个字符", "{field}: at most {limit} characters"),
    "field.empty": ("{field}：不能为空", "{field}: must not be empty"),
    # organizations, years, cycles, transitions
    "org.not_found": ("没有编码为 '{code}' 的组织", "no organization with code '{code}'"),
    "year.not_launched": ("{year} 年度尚未启动述职", "year {year} has not been launched"),
    "year.not_launched_hint": ("{year} 年度尚未启动述职（shuzhi year start {year} --plan PLAN.toml）",
                               "year {year} has not been launched (shuzhi year start {year} --plan PLAN.toml)"),
    "cycle.not_found": ("{org} 在 {year} 年度没有该类述职流程（{kind}）：该年度是否已启动？",
                        "{org} has no {kind} cycle in {year} (was the year launched?)"),
    "cycle.conflict": ("{org}（{kind}，{year}）刚被他人同时修改，本次未作任何更改，请刷新后重试",
                       "{org} ({kind}, {year}) was changed by someone else at the same time; nothing was done"),
    "transition.not_allowed": ("{org}：当前状态为“{state_label}”，不能执行“{event_label}”；可执行：{allowed_labels}",
                               "{org} ({kind}, {year}): '{event}' is not allowed from state '{state}'; "
                               "allowed: {allowed}"),
    "transition.needs_note": ("{org}：“{event_label}”须注明理由", "{org} ({kind}, {year}): '{event}' needs a reason (--note)"),
    "transition.unknown_event": ("{org}：未知操作 '{event}'", "{org} ({kind}, {year}): unknown event '{event}'; events: {events}"),
    "meeting.none": ("{organizer} 在 {year} 年度没有述职会议", "{organizer} holds no meeting in {year}"),
    "meeting.not_open": ("{org}：述职会尚未召开，请先开会（{hint}）",
                         "{org}: the meeting is not open; open it first ({hint})"),
    "remind.no_step": ("{org} {year} 年度流程处于“{state_label}”，没有待办环节可提醒",
                       "{org} {year}: state '{state}' owes no step to remind of"),
    "remind.no_due": ("{org} {year} 年度“{step_label}”没有截止日期，无从提醒", "{org} {year}: step '{step}' has no due date"),
    # accounts and ballots
    "login.wrong": ("用户名或密码错误", "wrong name or password"),
    "account.exists": ("账户 '{name}' 已存在", "an account named '{name}' exists already"),
    "account.not_found": ("没有名为 '{name}' 的账户", "no account named '{name}'"),
    "ballot.unknown": ("无效的测评码", "unknown ballot code"),
    "ballot.used": ("测评码已使用", "this ballot code has been used already"),
    "ballot.closed": ("{names} 的测评已结束", "evaluation already closed for {names}"),
    # unexpected failures (the CLI's and the console's last resort)
    "internal": ("系统发生意外错误（错误编号 {error_id}），请将编号告知管理员；未显示任何数据",
                 "unexpected failure (error id {error_id}); tell the administrator this id"),
}


def render(code: str, params: dict[str, Any], lang: str = "zh") -> str:
    """The catalogue's text for `code` in `lang` ('zh' or 'en'); the code itself when unknown."""
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    template = pair[1] if lang == "en" else pair[0]
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):  # a missing parameter must not hide the error itself
        return template


def where_it_failed(error: BaseException) -> str:
    """The last frames as `file:line in function`: no source text, no locals, no message (they may hold data)."""
    import traceback
    from pathlib import Path

    frames = traceback.extract_tb(error.__traceback__)[-8:]
    return "\n".join(f"  {Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)


class ShuzhiError(Exception):
    """`ShuzhiError(code, **params)`: `str()` is the Chinese message; `render('en')` the English one.

    For compatibility a plain sentence may stand in place of a code: it is shown as written in both languages.
    """

    exit_code = 1

    def __init__(self, code: str, /, *, problems: list[str] | None = None, **params: Any) -> None:
        self.code = code if code in MESSAGES else ""
        self.params = params
        self.problems = problems or []
        self._text = code
        super().__init__(self.message)

    def render(self, lang: str = "zh", *, with_option: bool = False) -> str:
        """The message in `lang`. `with_option` prefixes the command-line option the error is about (the
        `option` parameter, e.g. `--kind`): the CLI shows it, the console never names CLI options."""
        text = render(self.code, self.params, lang) if self.code else self._text
        option = self.params.get("option")
        return f"{option}{'：' if lang != 'en' else ': '}{text}" if with_option and option else text

    @property
    def message(self) -> str:
        """Chinese, as the CLI prints it (with the option's name where there is one)."""
        return self.render("zh", with_option=True)

    @property
    def message_en(self) -> str:
        return self.render("en", with_option=True)

    def __str__(self) -> str:
        return self.message

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON form the API and `--json` use: the message in `lang`, the code and the problems."""
        return {"error": self.render(lang), "code": self.code or None,
                "params": {k: _plain(v) for k, v in self.params.items()}, "problems": self.problems}


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


class BadInput(ShuzhiError):
    """Bad usage or input (exit 2): nothing was changed."""

    exit_code = 2


class TooLarge(BadInput):
    """An upload over its size limit (exit 2; HTTP 413): refused whole, never cut."""


class Refused(ShuzhiError):
    """Refused by the rules: illegal transition, permission, conflict (exit 3): nothing was changed."""

    exit_code = 3


class Conflict(Refused):
    """Someone else changed the record first (optimistic lock lost)."""


class PermissionDenied(Refused):
    """The actor may not do this."""


class NotFound(ShuzhiError):
    exit_code = 4
