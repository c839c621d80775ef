"""Errors services raise; each carries the CLI exit code of cli.md, a message code with its parameters, and,
where useful, a list of problems.

One message catalogue (issue 12 item 7): a service raises `BadInput("plan.year_mismatch", file_year=…, year=…)`;
the CLI, the pages and the API render the code in Chinese (English with `render("en")`, the console's
`?lang=en`). A message that is not a catalogue code is kept as written (older raise sites, other features).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NoReturn, Self, overload

# code → (Chinese, English); `{name}` fields come from the error's parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    # plans and years
    "plan.too_large": ("计划文件过大（上限 {limit} MB）", "the plan file is larger than {limit} MB"),
    "plan.encoding": ("计划文件 {name} 不是 UTF-8 文本", "{name}: the plan is not UTF-8 text"),
    "plan.not_toml": ("计划文件不是有效的 TOML：{detail}", "plan: not valid TOML ({detail})"),
    "plan.too_deep": ("计划文件嵌套过深", "plan: lists or tables nested too deeply"),
    "plan.invalid": ("计划文件有 {count} 处问题，未作任何更改：{first}", "plan: {count} problem(s), nothing was changed: {first}"),
    "plan.year_mismatch": ("计划文件中的年度为 {file_year}，与所选年度 {year} 不一致",
                           "plan: year = {file_year} in the file, but {year} on the command line"),
    "plan.unknown_organizer": ("meetings.by_organizer.{code}：没有编码为 '{code}' 的组织",
                               "meetings.by_organizer.{code}: no organization with code '{code}'"),
    "plan.meeting_before_parent": ("meetings：{code} 的会议（{date}）早于其本身述职的会议（{parent}，{parent_date}）："
                                   "述职自上而下逐级进行",
                                   "meetings: {code}'s meeting ({date}) is before the meeting at which it reports "
                                   "itself ({parent}, {parent_date}): the cascade runs top-down"),
    # the plan file's own fields (states.plan.PlanError's problems)
    "plan.datetime": ("{where}：'{value}' 应为日期（YYYY-MM-DD），不带时间",
                      "{where}: '{value}' must be a date (YYYY-MM-DD) without a time"),
    "plan.not_date": ("{where}：'{value}' 不是日期（应为 YYYY-MM-DD）", "{where}: '{value}' is not a date (YYYY-MM-DD)"),
    "plan.not_int": ("{where}：'{value}' 应为 {low} 到 {high} 之间的整数",
                     "{where}: '{value}' must be a whole number from {low} to {high}"),
    "plan.nesting": ("计划文件嵌套过深（列表和表最多 {limit} 层）", "plan: lists and tables nested more than {limit} deep"),
    "plan.unknown_key": ("未知字段 '{key}'", "unknown key '{key}'"),
    "plan.timezone": ("timezone：'{value}' 不是有效的时区名称（应为 IANA 时区，如 Asia/Shanghai）",
                      "timezone: '{value}' is not a valid time zone (an IANA zone such as Asia/Shanghai)"),
    "plan.table": ("{key}：应为一个表 [{key}]", "{key}: must be a table [{key}]"),
    "plan.meetings_missing": ("meetings：缺少 [meetings] 表（city、towns、villages 三级会议日期）",
                              "meetings: the [meetings] table is missing (the dates of the city, towns and villages "
                              "meetings)"),
    "plan.by_organizer_table": ("meetings.by_organizer：应为“组织单位编码 = 日期”的表",
                                "meetings.by_organizer: must be a table of organizer code = date"),
    "plan.meeting_missing": ("{where}：缺少该级会议日期", "{where}: the date of this level's meetings is missing"),
    "plan.before_days": ("reminders.before_days：应为 0 到 60 之间整数的列表（最多 20 个），如 [3, 1]",
                         "reminders.before_days: must be a list of at most 20 whole numbers from 0 to 60, such as "
                         "[3, 1]"),
    "plan.quiet_hours": ("reminders.quiet_hours：'{value}' 应形如 \"22:00-08:00\"",
                         "reminders.quiet_hours: '{value}' must look like \"22:00-08:00\""),
    "plan.outside_season": ("{where}：{date} 不在 {year} 年度述职期内（{start} 至 {end}）",
                            "{where}: {date} is outside the {year} season ({start} to {end})"),
    "plan.own_deadline": ("own_level.deadline：{date} 应在 {start} 至 {end} 之间",
                          "own_level.deadline: {date} must be between {start} and {end}"),
    "plan.order": ("meetings.{later}：不得早于 meetings.{earlier}（述职自上而下逐级进行）",
                   "meetings.{later}: must not be before meetings.{earlier} (the cascade runs top-down)"),
    "plan.year_missing": ("year：缺少年度", "year: the year is missing"),
    "preview.empty": ("方案为空：请粘贴方案或点击“按组织树生成方案”", "the plan is empty: paste a plan or press “Draft the plan”"),
    "search.matched": ("“{value}”匹配到 {name}（{code}）", "“{value}” matched {name} ({code})"),
    "preview.no_orgs": ("尚未导入组织树：请先导入组织（管理页“导入组织树”）",
                        "no organizations yet: import the tree first (the admin page, “import the tree”)"),
    "preview.calendar": ("工作日历缺少数据：{detail}（请在管理端补录当年节假日安排）",
                         "the working-day calendar lacks data: {detail} (enter the year's holidays on the admin page)"),
    "year.no_orgs": ("尚无组织：请先导入组织架构（shuzhi orgs import FILE）",
                     "no organizations yet: import the tree first (shuzhi orgs import FILE)"),
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
    "report.not_docx": ("{name}：无法作为 .docx 读取（{detail}）", "{name}: cannot read as .docx ({detail_en})"),
    "report.bomb": ("{name}：{what}，超出述职报告的合理范围，拒绝读取（可能是压缩炸弹或损坏的文件）；"
                    "请另存为普通的 .docx、.md 或 .txt 后再提交",
                    "{name}: {what_en}, beyond any real report: refused (a zip bomb or a damaged file?); save it as a plain "
                    ".docx, .md or .txt and submit again"),
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
    "password.too_short": ("密码：至少 {limit} 个字符", "password: at least {limit} characters"),
    "password.common": ("密码：过于常见或容易猜到，请换一个", "password: too common or too easy to guess; choose another"),
    "account.name_bad": ("用户名：1–100 个字符，不含空格", "name: 1–100 characters, no spaces"),
    "account.role_bad": ("角色：'{role}' 不是 {choices} 之一", "role: '{role}' is not one of {choices}"),
    "account.scope_needed": ("范围：{role_label}账户需要一个组织代码（{what}）",
                             "scope: a {role} account needs an organization code ({what_en})"),
    "account.scope_unknown": ("范围：没有代码为 '{scope}' 的组织", "scope: no organization with code '{scope}'"),
    "account.name_taken": ("用户名：'{name}' 已存在", "name: '{name}' exists already"),
    "account.keep_one_admin": ("至少保留一个有效的系统管理员账户", "keep at least one active admin account"),
    "account.phone_unset": ("手机号：未设置", "phone: not set"),
    "account.role_choose": ("角色：请选择一个角色", "role: choose a role"),
    "account.phone_bad": ("手机号：不是有效的手机号码", "phone: not a valid mobile number"),
    # generic field problems
    "field.empty": ("{field}：不能为空", "{field}: must not be empty"),
    "field.bad_number": ("{field}：'{value}' 不是 {low} 到 {high} 之间的整数",
                         "{field}: '{value}' is not a whole number from {low} to {high}"),
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
    "ballot.unknown_or_used": ("测评码无效或已使用", "the ballot code is unknown or has been used"),
    "ballot.closed": ("{names} 的测评已结束", "evaluation already closed for {names}"),
    # issue 12: the older raise sites, now codes
    "level.bad": ("层级须为 1、2 或 3（收到 {value}）", "level must be 1, 2 or 3 (got {value})"),
    "step.bad": ("未知环节 '{value}'（可选 {choices}）", "unknown step '{value}'; steps: {choices}"),
    "days_late.bad": ("逾期天数须在 0 到 3660 之间（收到 {value}）", "days late must be between 0 and 3660 (got {value})"),
    "page.bad_limit": ("分页参数有误：起始位置应 ≥ 0，每页条数应在 1 到 {limit} 之间",
                       "offset must be ≥ 0 and limit between 1 and {limit}"),
    "remind.bulk_cap": ("筛选结果有 {units} 个单位，超过一次批量提醒的上限 {cap} 个：请按范围、层级或环节缩小筛选"
                        "（每日巡检已自动提醒所有滞后单位）",
                        "the filter matches {units} units, more than the {cap} one bulk reminder may reach: narrow it "
                        "by subtree, level or step (the daily sweep reminds every lagging unit anyway)"),
    "account.needs_phone": ("密码：没有密码的账户需要手机号（短信验证码登录）",
        "password: an account without a password needs a phone (SMS code sign-in)"),
    "account.last_admin": ("不能降级或停用最后一个有效的系统管理员", "the last active admin cannot be demoted or disabled"),
    "account.no_phone": ("账户 '{name}' 没有手机号，不能改为短信验证码登录",
        "account '{name}' has no phone: it cannot switch to SMS code sign-in"),
    "login.locked": ("尝试次数过多，已暂时锁定，请于 {time} 后再试", "too many attempts: locked, try again after {time}"),
    "login.too_many": ("尝试过于频繁，请稍后再试", "too many attempts; try again later"),
    "account.role_missing": ("请选择角色", "choose a role"),
    "otp.phone_bad": ("手机号：请输入 11 位手机号码", "phone: enter an 11-digit mobile number"),
    "otp.too_soon": ("验证码发送过于频繁，请 1 分钟后再试", "a code was sent less than a minute ago: try again in a minute"),
    "otp.per_hour": ("每个手机号每小时最多获取 {limit} 次验证码，请稍后再试", "at most {limit} codes per phone per hour: try again later"),
    "role.bad": ("角色 '{value}' 无效（可选 {choices}）", "role '{value}' is not one of {choices}"),
    "queue.not_reviewer": ("无权操作：{name}（{role_label}）没有审核队列：只有审核人员可以审核述职报告",
        "{name} ({role}) has no review queue: only reviewers review reports"),
    "queue.no_scope": ("无权操作 {name}：账号没有有效的审核范围", "{name}: the account has no valid review scope"),
    "search.too_long": ("搜索词最多 {limit} 个字符（收到 {got} 个）", "search: at most {limit} characters (got {got})"),
    "export.format": ("导出格式须为 xlsx 或 csv（收到 '{value}'）", "the export format must be xlsx or csv (got '{value}')"),
    "behalf.event": ("代为办理只限单位自身的环节（{choices}），收到 '{value}'",
        "acting on behalf is only for the unit's own steps ({choices}); got '{value}'"),
    "field.not_int": ("{field}：应为整数（收到 '{value}'）", "{field}: not a whole number (got '{value}')"),
    "search.none": ("没有找到名称、编码或拼音首字母为“{value}”的组织",
        "no organization whose name, code or pinyin initials match '{value}'"),
    "year.missing": ("缺少年度", "the year is missing"),
    "year.range": ("年度须在 1990 到 2100 之间（收到 {value}）", "the year must be between 1990 and 2100 (got {value})"),
    "my.not_secretary": ("无权操作 {name}：“我的待办”只属于述职单位书记（账号范围为本单位）",
        "{name}: 'my tasks' belong to a unit's secretary (an account scoped to the unit)"),
    "my.own_unit_only": ("无权操作 {name}：书记只能查看本单位（{scope}）的述职材料",
        "{name}: a secretary sees only the own unit's ({scope}) materials"),
    "review.out_of_scope": ("无权操作 {name}：{org} 不在审核范围 {scope} 内", "{name}: {org} is outside the review scope {scope}"),
    "meeting.not_host": ("无权操作 {name}：不能主持 {organizer} 的述职评议会", "{name} may not run {organizer}'s evaluation meeting"),
    "rectification.incomplete": ("{org}：整改方案和公开承诺不完整：还没有{missing}，不能备案",
        "{org}: the rectification plan is incomplete ({missing_en} missing): it cannot be filed"),
    "rectification.empty": ("请至少填写一项整改事项或公开承诺", "fill in at least one rectification item or the public commitment"),
    "meeting.comment_empty": ("点评和提问都为空：请填写点评意见或至少一个提问",
        "the comment and the questions are all empty: write a comment or at least one question"),
    "review.event_bad": ("'{value}' 不是审核操作", "'{value}' is not a review action"),
    "review.note_too_long": ("退回理由太长（最多 {limit} 字）",
        "the reason for returning is too long (at most {limit} characters)"),
    "report.not_uploaded": ("{org}：{since}尚未上传新的述职报告，不能{what}（请先上传报告 .docx/.md/.txt）",
        "{org}: no new report uploaded{since_en}: nothing to {what_en} (upload a .docx/.md/.txt first)"),
    "report.attach_state": ("{org}：当前状态“{state_label}”不能上传述职报告（只有调研、撰写或退回修改时可以上传）",
        "{org}: no upload in state '{state}' (only while researching, drafting or revising)"),
    "report.none": ("{org} 在 {year} 年度没有已报送的述职报告{version_zh}", "{org} has no submitted report in {year}{version_en}"),
    "report.no_sample": ("没有名为 '{name}' 的示例报告", "no sample report '{name}'"),
    "meeting.which": ("请指定 --meeting ORGANIZER 或 --own ORG 之一", "give either --meeting ORGANIZER or --own ORG"),
    "meeting.none_heard": ("{organizer} 在 {year} 年度没有述职评议会（没有单位向它述职）",
        "{organizer} holds no evaluation meeting in {year} (no unit reports to it)"),
    "cycle.no_own_level": ("{org} 在 {year} 年度没有向本级述职的流程", "{org} has no own_level cycle in {year}"),
    "meeting.own_not_opened": ("{org} {year} 年度本级述职会尚未召开（shuzhi meeting open --own {org}）",
        "{org}'s own committee meeting for {year} has not been opened (shuzhi meeting open --own {org})"),
    "meeting.closed": ("{organizer}：{year} 年度述职会已结束", "{organizer}: the {year} meeting was closed already"),
    "meeting.not_opened": ("{organizer}：{year} 年度述职会尚未召开", "{organizer}: the {year} meeting has not been opened"),
    "meeting.no_attendees": ("没有填写参会人员", "no attendees given"),
    "meeting.comment_text_empty": ("点评内容为空", "the comment is empty"),
    "meeting.question_empty": ("提问内容为空", "the question is empty"),
    "meeting.nobody": ("{organizer} {year} 年度述职会没有述职人", "nobody presents at {organizer}'s {year} meeting"),
    "ratings.json": ("不是有效的 JSON（{detail}）", "not valid JSON ({detail})"),
    "ratings.shape": ("请给出“组织编码 → 评价”的对象，例如 {{\"V001\": \"好\"}}",
        "give an object of organization code → rating, e.g. {{\"V001\": \"好\"}}"),
    "ballots.file_empty": ("文件 {name} 是空的", "{name}: empty file"),
    "ballots.no_forms": ("文件 {name} 中没有填写的测评表", "{name}: no filled-in ballot forms"),
    "ballots.unrated": ("请为每位述职人选择评价，尚未评价：{names}", "rate every presenter; not rated yet: {names}"),
    "ballots.rate_everyone": ("请为每位述职人选择评价（好、较好、一般、差）", "rate every presenter (好, 较好, 一般 or 差)"),
    "rectification.state": ("{org}：整改方案在测评之后、备案之前制定（当前状态“{state_label}”）",
        "{org}: rectification is drawn up after the evaluation and before filing (state now '{state}'; allowed in {allowed})"),
    "rectification.no_item": ("没有编号为 {id} 的整改事项", "no rectification item {id}"),
    "rectification.done_already": ("整改事项 {id} 已完成", "item {id} is done already"),
    "commitment.empty": ("公开承诺内容为空", "the commitment is empty"),
    "rectification.status_bad": ("整改状态 '{value}' 无效（可选 open、done）", "'{value}' is not open or done"),
    "rectification.missing": ("{org}：整改方案和公开承诺不完整：{missing}",
        "{org}: the rectification plan is incomplete: {missing_en}"),
    "date.bad": ("'{value}' 不是日期（应为 YYYY-MM-DD）", "'{value}' is not a date (YYYY-MM-DD)"),
    "month.bad": ("'{value}' 不是月份（应为 YYYY-MM）", "'{value}' is not a month (YYYY-MM)"),
    "day_kind.bad": ("日期类型 '{value}' 无效（可选 {choices}）", "'{value}' is not one of {choices}"),
    "number.range": ("'{value}' 应为 1 到 1000000 之间的整数", "'{value}' must be a whole number from 1 to 1000000"),
    "retry.status": ("状态为 '{value}' 的消息不能重试（只能重试 failed 或 cancelled）",
        "'{value}' cannot be retried (failed or cancelled)"),
    "channel.bad": ("渠道 '{value}' 无效（可选 sms、email）", "'{value}' is not one of sms, email"),
    "work_plan.no_meeting": ("{organizer} 在 {year} 年度不组织述职评议会，无需报送工作方案",
        "{organizer} organizes no evaluation meeting in {year}: it files no work plan"),
    "feedback.none": ("{org}（{kind}，{year}）尚无反馈通知：通知在“反馈意见”时生成",
        "{org} ({kind}, {year}) has no feedback notice yet: it is written on give_feedback"),
    "out.suffix": ("输出文件 {name} 的扩展名应为 {choices}", "{name}: use a file name ending in {choices}"),
    "key.none": ("{org} 在 {year} 年度未列为重点管理或诫勉对象（请先计算考核结果）",
        "{org} is not under key management or admonition in {year} (run results compute first)"),
    "key.note_empty": ("请填写谈话商定的内容", "say what was agreed at the talk"),
    "key.rectify_before_talk": ("整改期限 {value} 早于谈话日期（{talk_on}）", "{value} is before the talk ({talk_on})"),
    "category.bad": ("考核类别 '{value}' 无效（可选 {choices}）", "'{value}' is not one of {choices}"),
    "results.none": ("{year} 年度尚无考核结果：请先运行 `shuzhi results compute --year {year}`",
        "no results for {year}: run `shuzhi results compute --year {year}` first"),
    "results.none_compare": ("{year} 年度没有可供比较的考核结果", "no results for {year} to compare with"),
    "places.bad": ("名额 {value} 至少为 1", "{value} must be at least 1"),
    "honour.empty": ("请填写荣誉名称，例如 年度目标考核先进单位", "give the honour's name, e.g. 年度目标考核先进单位"),
    "results.none_category": ("{year} 年度 {category} 类尚无考核结果：请先运行 `shuzhi results compute --year {year}`",
        "no results for {year} in {category}: run `shuzhi results compute --year {year}` first"),
    "results.no_performance": ("{year} 年度 {category} 类没有单位有实绩得分（请导入 performance 分项）",
        "no {category} unit has a performance score in {year} (import component 'performance')"),
    "summary.no_reports": ("{organizer} 在 {year} 年度没有听取述职", "{organizer} heard no reports in {year}"),
    "file.changed": ("文件 {name} 在导入过程中被修改，未导入任何数据",
        "{name}: the file changed while it was being imported; nothing was imported"),
    "publication.sections": ("公开内容 {unknown} 无效（可选 {choices}）",
        "publication: unknown section(s) {unknown}; sections: {choices}"),
    "dates.bad": ("日期应为 YYYY-MM-DD", "give dates as YYYY-MM-DD"),
    "sms.needs_url": ("SHUZHI_SMS_PROVIDER=webhook 需要设置 SHUZHI_SMS_URL",
        "SHUZHI_SMS_PROVIDER=webhook needs SHUZHI_SMS_URL"),
    "sms.needs": ("SHUZHI_SMS_PROVIDER=aliyun 需要设置 {missing}", "SHUZHI_SMS_PROVIDER=aliyun needs {missing}"),
    "sms.provider_bad": ("短信服务商 '{value}' 无效（可选 {choices}）", "'{value}' is not one of {choices}"),
    "landing.bad": ("'{value}' 不是控制台内的路径（须以一个 '/' 开头）",
        "'{value}' is not a path of the console (it must start with one '/')"),
    "size.min": ("数量 {value} 至少为 1", "{value} must be at least 1"),
    "sample.no_population": ("{org} 下没有村、社区、企业或其他组织",
        "{org} has no villages, communities, enterprises or other organizations under it"),
    "sample.rows": ("文件 {name} 有 {count} 处问题，未抽样", "{name}: {count} problem(s); no sample was drawn"),
    "sample.too_many_people": ("数量 {value} 超过 {population} 中的 {count} 人",
        "{value} is more than the {count} people in {population}"),
    "sample.not_found": ("没有编号为 {id} 的抽样记录", "no sample record {id}"),
    # one row of an imported file (orgs, scores, on-site items, people, paper ballots): `Problem("row", row=N,
    # reason=Problem(...))`; the CLI prints the contract's `row N: reason` (CLI_FORMS), the console 第 N 行
    "row": ("第 {row} 行：{reason}", "row {row}: {reason}"),
    "file.no_rows": ("文件只有表头，没有数据行", "the file has a header but no rows"),
    "org_row.code_missing": ("缺少编码（code）", "missing code"),
    "org_row.code_bad": ("编码 '{code}' 只能由字母、数字、'.'、'_' 和 '-' 组成（最多 64 个字符）",
                         "code '{code}' may use only letters, digits, '.', '_' and '-' (at most 64)"),
    "org_row.code_duplicate": ("编码 '{code}' 重复（首次出现在第 {first} 行）",
                               "duplicate code '{code}' (first at row {first})"),
    "org_row.name_empty": ("名称为空", "empty name"),
    "org_row.kind_bad": ("类型 '{kind}' 无效，应为以下英文代码之一：{choices_zh}", "unknown kind '{kind}' (one of {choices})"),
    "org_row.parent_missing": ("缺少上级编码（parent）", "missing parent"),
    "org_row.prefecture_parent": ("地市委（prefecture）是组织树的顶层，不能有上级",
                                  "a prefecture is the top of the tree and has no parent"),
    "org_row.phone_bad": ("手机号格式有误", "malformed phone"),
    "org_row.email_bad": ("邮箱格式有误", "malformed email"),
    "org_row.parent_bad_row": ("上级 '{parent}' 所在的行有错误", "parent '{parent}' is on a row with errors"),
    "org_row.parent_unknown": ("上级 '{parent}' 不存在", "unknown parent '{parent}'"),
    "org_row.cycle": ("组织树中有循环：{chain}", "cycle in the tree: {chain}"),
    "org_row.level": ("{kind_label}（{kind}）不能隶属于{parent_label}（{parent_kind}）'{parent}'",
                      "a {kind} cannot be under a {parent_kind} ('{parent}')"),
    "row.too_long": ("{field_zh}有 {length} 个字符，最多 {limit} 个", "{field_en} is {length} characters, at most {limit}"),
    "row.invisible": ("{field_zh}含控制或不可见字符 U+{point}", "{field_en} contains the control or invisible character U+{point}"),
    # scores and on-site items
    "score_row.not_number": ("得分 '{value}' 不是数字", "score '{value}' is not a number"),
    "score_row.range": ("得分 {value} 超出 0–100 的范围", "score {value} is out of range 0–100"),
    "score_row.duplicate": ("{org} 的 {what} 重复（首次出现在第 {first} 行）", "duplicate {org} {what} (first at row {first})"),
    "score_row.unknown_org": ("组织 '{org}' 不存在", "unknown org '{org}'"),
    "score_row.not_scored": ("{org} 是{kind_label}（{kind}），不参加考核（没有考核类别）",
                             "{org} is a {kind}, which is not scored (no result category)"),
    "score_row.not_onsite": ("{org} 是{kind_label}（{kind}）；实地考核分项只用于村、社区和其他基层组织",
                             "{org} is a {kind}; on-site items are for villages, communities and others"),
    "score_row.lacks_parts": ("{org} 缺少评价主体 {parts}", "{org} lacks the part(s) {parts}"),
    "row.missing": ("缺少{label}（{field}）", "missing {field}"),
    "row.empty": ("{label}（{field}）为空", "empty {field}"),
    "row.item": ("{label}（{item}）：{reason}", "{item}: {reason}"),
    "score_row.component_bad": ("考核项目 '{value}' 无效（可选 {choices}）", "unknown component '{value}' (one of {choices})"),
    "score_row.part_bad": ("评价主体 '{value}' 无效（可选 {choices}）", "unknown part '{value}' ({choices_en})"),
    # the plan's [scoring] and [assessment] sections (states.scoring.RuleProblem)
    "rules.not_number": ("{where}：'{value}' 应为数字", "{where}: '{value}' must be a number"),
    "rules.range": ("{where}：{value} 应在 {low} 到 {high} 之间", "{where}: {value} must be between {low} and {high}"),
    "rules.weights_table": ("scoring.weights：应为权重表，如 {{onsite = 0.4, evaluation = 0.3, survey = 0.2, daily = 0.1}}",
                            "scoring.weights: must be a table such as {{onsite = 0.4, evaluation = 0.3, survey = 0.2, "
                            "daily = 0.1}}"),
    "rules.unknown_name": ("{where}：未知项目（可选 {choices}）", "{where}: unknown (one of {choices})"),
    "rules.weights_sum": ("scoring.weights：各项权重之和应为 1（现为 {total}）",
                          "scoring.weights: must add up to 1 (they add up to {total})"),
    "rules.unknown_key": ("未知字段 '{key}'", "unknown key '{key}'"),
    "rules.whole_number": ("{where}：'{value}' 应为不小于 1 的整数", "{where}: '{value}' must be a whole number ≥ 1"),
    "rules.table_of": ("{where}：应为“{names} = 权重”的表", "{where}: must be a table of {names} = weight"),
    "rules.all_zero": ("{where}：权重不能全为 0", "{where}: the weights must not all be zero"),
    # paper ballots
    "ballot_row.not_presenting": ("{org} 不在 {organizer} 的述职会上述职", "{org} does not present at {organizer}'s meeting"),
    "ballot_row.rating_bad": ("{org}：评价 '{value}' 无效（可选 好、较好、一般、差）",
                              "{org}: unknown rating '{value}' (好, 较好, 一般, 差 or excellent, good, fair, poor)"),
    "ballot_row.no_presenter": ("表头没有列出任何述职单位（应为 {codes} 中的编码）",
                                "header names no presenting organization ({codes})"),
    "ballots.scale_bad": ("年度方案 [ballots] scale：'{key} = {value}' 应为“评价 = 0…100”（评价为 好/较好/一般/差）",
                          "plan [ballots] scale: '{key} = {value}' must be a rating (好/较好/一般/差) = 0…100"),
    "ballots.quorum_bad": ("年度方案 [ballots] quorum：'{value}' 应为不小于 0 的整数",
                           "plan [ballots] quorum: '{value}' must be a whole number ≥ 0"),
    "ballots.ratio_bad": ("年度方案 [ballots] quorum_ratio：'{value}' 应在 0 到 1 之间",
                          "plan [ballots] quorum_ratio: '{value}' must be between 0 and 1"),
    "ballots.key_unknown": ("年度方案 [ballots]：未知字段 '{key}'", "plan [ballots]: unknown key '{key}'"),
    "attendee.name_empty": ("第 {number} 位参会人员：姓名为空", "attendee {number}: name is empty"),
    # sampling: people files
    "person_row.duplicate": ("编号 '{id}' 重复（首次出现在第 {first} 行）", "duplicate id '{id}' (first at row {first})"),
    "person_row.phone_bad": ("手机号 '{phone}' 格式有误", "malformed phone '{phone}'"),
    "sample.too_many_orgs": ("数量 {value} 超过 {org} 下的 {count} 个组织",
                             "{value} is more than the {count} organizations under {org}"),
    # refusals by role and scope (services.permissions): `what` is one of the denied.* below
    "denied": ("无权操作：{name}（{role_label}{scope_zh}）{what}", "not allowed: {name} ({role}{scope_en}) may not {what}"),
    "denied.fire": ("不能对 {org} 执行“{event_label}”", "fire '{event}' on {org}"),
    "denied.fire_unknown_role": ("角色未知，不能执行“{event_label}”", "fire '{event}' (unknown role)"),
    "denied.fire_own_unit": ("不能对 {org} 执行“{event_label}”：书记只能办理本单位的述职流程",
                             "fire '{event}' on {org}: a secretary acts on their own unit's cycles only"),
    "denied.fire_scope": ("不能对 {org} 执行“{event_label}”：其述职会组织单位不在范围 {scope} 内",
                          "fire '{event}' on {org}: its organizer is outside scope {scope}"),
    "denied.citywide": ("不能查看全市列表（书记只能查看本单位）", "read the city-wide lists (a secretary reads their own unit only)"),
    "denied.read_other": ("不能查看 {org}（书记只能查看本单位）", "read {org}: a secretary reads their own unit only"),
    "denied.remind_scope": ("不能提醒 {org}：其{kind_label}流程的组织单位不在范围 {scope} 内",
                            "remind {org}: its {kind} cycle is organized outside scope {scope}"),
    "denied.action_scope": ("不能对 {org}{action_label}：不在范围 {scope} 内", "{action} for {org}: outside scope {scope}"),
    "denied.action": ("不能{action_label}", "{action}"),
    "calendar.missing": ("{year} 年尚无工作日历：请按国务院放假通知录入当年的节假日和调休上班日"
                         "（shuzhi calendar set {year}-MM-DD holiday|workday），或升级 chinesecalendar",
                         "no working-day calendar for {year} yet: enter the State Council's holiday notice with "
                         "`shuzhi calendar set {year}-MM-DD holiday|workday` (or upgrade chinesecalendar)"),
    "export.too_many": ("导出超过一张工作表的上限 {limit} 行：请缩小筛选",
                        "the export is over one sheet's {limit} rows: narrow the filter"),
    "otp.choose_account": ("该手机号对应多个账户，请选择要登录的账户", "this phone signs in to several accounts: choose one"),
    "otp.account": ("账户：{name}", "account: {name}"),
    "otp.wrong": ("验证码错误或已过期", "the code is wrong or has expired"),
    "otp.wrong_problem": ("验证码：错误、已过期或已使用", "code: wrong, expired or used already"),
    # rectification items (the CLI, the operator's "act on behalf" form, the secretary's plan form)
    "rect.field_empty": ("{label}不能为空", "{field}: must not be empty"),
    "rect.due_bad": ("完成时限“{value}”不是日期（YYYY-MM-DD）", "due: '{value}' is not a date (YYYY-MM-DD)"),
    "rect.due_after": ("完成时限 {due} 晚于整改方案备案期限 {limit}", "due: {due} is after the commitment deadline {limit}"),
    "rect.item": ("第{number}项：{reason}", "item {number}: {reason}"),
    # Prefect (Mode 2)
    "prefect.no_deployment": ("Prefect 服务器上没有部署 {name}：请先运行 prefect deploy（见 deploy/README.md）",
        "Prefect has no deployment {name}: run prefect deploy first (see deploy/README.md)"),
    "prefect.unreachable": ("无法访问 Prefect 服务器 {url}（{detail}）：请检查 PREFECT_API_URL，或加 --direct 在本机运行",
        "cannot reach the Prefect server at {url} ({detail}): check PREFECT_API_URL, or add --direct to run here"),
    "prefect.run_ended": ("Prefect 运行 {name} 结束于 {state}：{message}（见 Prefect 界面的日志）",
        "Prefect run {name} ended {state}: {message} (see its logs in Prefect's UI)"),
    # the console's HTTP refusals (web/app.py renders an HTTPException whose detail is one of these, or a bare status)
    "http.sign_in": ("请先登录", "please sign in"),
    "http.sign_in_or_token": ("请先登录，或在请求头中提供 Authorization: Bearer TOKEN",
                              "sign in or send Authorization: Bearer TOKEN"),
    "http.csrf": ("页面已过期（表单校验码缺失或不符）：请刷新页面后重试",
                  "CSRF token missing or wrong: reload the page and try again"),
    "http.own_unit_only": ("无权查看：书记账户只能查看本单位", "not allowed: a secretary's account sees only its own unit"),
    "http.401": ("请先登录", "please sign in"),
    "http.403": ("无权操作", "not allowed"),
    "http.404": ("没有这个页面或记录", "not found"),
    "http.405": ("不支持该请求方式", "method not allowed"),
    "http.413": ("请求过大", "the request is too large"),
    "http.429": ("请求过于频繁，请稍后再试", "too many requests; try again later"),
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
    if any(isinstance(value, Problem) for value in params.values()):  # a problem inside a problem (a row's reason)
        params = {k: v.render(lang) if isinstance(v, Problem) else v for k, v in params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):  # a missing parameter must not hide the error itself
        return template


# Formats the CLI contract fixes (cli.md: "one line `row N: reason` per bad row"): the CLI prints these whatever
# its language; the reason inside follows the language (Chinese, or English under SHUZHI_LANG=en).
CLI_FORMS: dict[str, str] = {"row": "row {row}: {reason}"}


def cli_text(problem: str, lang: str = "zh") -> str:
    """A problem as the CLI prints it: the contract's fixed form where there is one, else the catalogue's text."""
    if not isinstance(problem, Problem):
        return problem
    form = CLI_FORMS.get(problem.code)
    if form is None:
        return problem.render(lang)
    params = {k: v.render(lang) if isinstance(v, Problem) else v for k, v in problem.params.items()}
    try:
        return form.format(**params)
    except (KeyError, IndexError, ValueError):
        return problem.render(lang)


def failure_text(error: BaseException, lang: str = "zh") -> str:
    """One line telling an operator why a year was skipped: a plan's problems (states' PlanError and
    ScoringRulesError carry catalogue codes, not text) rendered from the catalogue, else the exception's own text."""
    problems = getattr(error, "problems", None) or []
    if problems and all(hasattr(p, "code") and hasattr(p, "params") for p in problems):
        return f"{type(error).__name__}: " + "；".join(render(p.code, p.params, lang) for p in problems)
    return f"{type(error).__name__}: {error}"


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

    def __init__(self, code: str, /, *, problems: Sequence[str] | None = None, **params: Any) -> None:
        self.code = code if code in MESSAGES else ""
        self.params = params
        # a RowProblems stays as it is: its problems are made one at a time as they are read
        self.problems: Sequence[str] = problems if isinstance(problems, RowProblems) else list(problems or [])
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

    @classmethod
    def listing(cls, problems: Sequence[Problem]) -> Self:
        """The error of a list of problems: its message is the first problem, every one is kept (and rendered)."""
        first = problems[0]
        return cls(first.code, problems=list(problems), **first.params)

    def problems_in(self, lang: str = "zh") -> list[str]:
        """The problems in `lang`: a `Problem` from the catalogue is rendered, a plain string is kept as written."""
        return [p.render(lang) if isinstance(p, Problem) else p for p in self.problems]

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON form the API and `--json` use: the message in `lang`, the code and the problems."""
        return {"error": self.render(lang), "code": self.code or None,
                "params": {k: _plain(v.render(lang) if isinstance(v, Problem) else v)
                           for k, v in self.params.items()}, "problems": self.problems_in(lang)}


def row_problem(row: int, reason: str, /, **params: Any) -> Problem:
    """A problem of one row of an imported file: 第 N 行：… in the console, the contract's `row N: …` in the CLI.
    `reason` is a catalogue code with its `params`, or a Problem already made."""
    return Problem("row", row=row, reason=reason if isinstance(reason, Problem) else Problem(reason, **params))


class Problem(str):
    """One problem of an error's list, from the catalogue: `Problem("field.empty", field="用户名")`.

    It is the Chinese text wherever a string is expected (the CLI's default, older callers); the console and
    the API render it in the request's language with `ShuzhiError.problems_in(lang)`."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, /, **params: Any) -> Problem:
        problem = super().__new__(cls, render(code, params, "zh"))
        problem.code, problem.params = code, params
        return problem

    def render(self, lang: str = "zh") -> str:
        return render(self.code, self.params, lang)


SHARED_REASONS = 10_000  # distinct reasons kept for sharing (reasons naming each row's own code are not repeated)


class RowProblems(Sequence[Problem]):
    """The problems of an imported file, kept compact: (row, reason) pairs, each reason made once for all the rows
    that share it (an unknown kind or a missing parent repeats on every row of a bad national file). A row's Problem
    is made when it is read: held as Problems, a file of 671,130 bad rows took 1.6 GB (two problems a row, each
    its Chinese text twice and two dicts) — every one is still reported (cli.md: one line per bad row).
    A pair with row 0 is a problem of the whole file, kept as it is."""

    def __init__(self) -> None:
        self._pairs: list[tuple[int, Problem]] = []
        self._shared: dict[tuple[Any, ...], Problem] = {}

    def add(self, row: int, reason: str | Problem, /, **params: Any) -> None:
        """Row `row`'s problem: a catalogue code with its params, or a Problem already made."""
        if isinstance(reason, Problem):
            code, params = reason.code, reason.params
        else:
            code = reason
        # shared by code and parameters; a parameter that is itself a Problem (equal to another by its Chinese
        # text alone) or cannot be a key (a list…): made for this row alone
        key: tuple[Any, ...] = ()
        if not any(isinstance(value, Problem) for value in params.values()):
            try:
                key = (code, *sorted(params.items()))
                hash(key)
            except TypeError:
                key = ()
        shared = self._shared.get(key) if key else None
        if shared is None:
            shared = reason if isinstance(reason, Problem) else Problem(reason, **params)
            if key and len(self._shared) < SHARED_REASONS:
                self._shared[key] = shared
        self._pairs.append((row, shared))

    def extend_pairs(self, pairs: Iterable[tuple[int, Problem]]) -> None:
        for row, reason in pairs:
            self.add(row, reason)

    def refuse(self, name: str) -> NoReturn:
        """Refuse the file `name` with every problem, in row order (a file's own problems, row 0, first; a row's
        problems in the order they were found): nothing is imported."""
        self._pairs.sort(key=lambda pair: pair[0])
        raise BadInput("file.rows", name=name, count=len(self), problems=self)

    def __len__(self) -> int:
        return len(self._pairs)

    @overload
    def __getitem__(self, index: int) -> Problem: ...
    @overload
    def __getitem__(self, index: slice) -> list[Problem]: ...

    def __getitem__(self, index: int | slice) -> Problem | list[Problem]:
        if isinstance(index, slice):
            return [self._made(pair) for pair in self._pairs[index]]
        return self._made(self._pairs[index])

    def __iter__(self) -> Iterator[Problem]:
        return (self._made(pair) for pair in self._pairs)

    @staticmethod
    def _made(pair: tuple[int, Problem]) -> Problem:
        row, reason = pair
        return row_problem(row, reason) if row else reason


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
