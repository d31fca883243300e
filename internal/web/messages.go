package web

import (
	"sirec/internal/record"
)

// messages is the message catalogue: every text the pages show, by key, per language. Simplified Chinese ("zh")
// is the default and complete; English ("en") must have the same keys (a test checks both against the
// templates).
var messages = map[string]map[string]string{
	"zh": {
		"app.name": "社会保险个人权益记录", "app.skip": "跳到正文", "app.nav": "主导航", "app.signed_in_as": "当前用户：",
		"app.logout": "退出", "app.footer": "社会保险经办机构 · 仅限业务专网使用 · 查询均被记录",
		"area.console": "经办工作台", "area.portal": "自助查询",

		"console.login.title": "工作人员登录", "portal.login.title": "参保人员和用人单位登录",
		"console.login.hint": "仅限本机构工作人员。连续多次输错密码将锁定账号。",
		"portal.login.hint":  "参保人员只能查询本人记录；用人单位只能查询本单位及职工在本单位期间的记录。",
		"login.username":     "用户名", "login.password": "密码", "login.submit": "登录",
		"login.failed": "用户名或密码错误。", "login.locked": "多次登录失败，账号已临时锁定，请稍后再试或联系系统管理员。",

		"nav.dashboard": "工作台", "nav.intake_person": "参保登记", "nav.intake_contribution": "单笔缴费",
		"nav.intake_batch": "月度批量", "nav.queue": "待审队列", "nav.persons": "人员查询", "nav.querylog": "查询日志",
		"nav.portal_home": "我的记录",

		"dash.title": "工作台", "dash.waiting": "各环节待审件数", "dash.stage": "环节", "dash.count": "件数",
		"dash.today": "今日入账事件", "dash.today_hint": "自今日零时起签名检查点新增的事件数。",
		"dash.checkpoint": "最新签名检查点", "dash.size": "事件总数", "dash.root": "根哈希",
		"dash.my_drafts": "我提交的待审件", "dash.no_drafts": "暂无。",

		"intake.person.title": "参保人员登记", "intake.person.registration": "人员信息",
		"intake.person.enrolment": "参保险种", "intake.contribution.title": "单笔缴费采集",
		"intake.batch.title": "月度缴费批量上传", "intake.submit": "提交审核",
		"f.id_number": "公民身份号码", "f.name": "姓名", "f.region": "参保地（6位行政区划代码）", "f.registered_on": "登记日期",
		"f.phone": "联系电话（选填）", "f.employer": "用人单位统一社会信用代码", "f.employer_hint": "灵活就业人员留空。",
		"f.enrol_from": "参保起始日期", "f.enrol_from_hint": "留空则与登记日期相同。", "f.materials": "原始材料（扫描件、文件）",
		"f.materials_hint": "可选多个文件，每个不超过 50 MiB。", "f.period": "所属期（年月，如 202401）", "f.type": "险种",
		"f.wage": "缴费工资（元）", "f.status": "缴费状态", "f.late_days": "滞纳天数（选填）", "f.sex": "性别",
		"f.birth": "出生日期", "f.person_status": "状态",
		"batch.columns": "文件第一行为列名：", "batch.file": "批量文件（CSV 或 XLSX）", "batch.file_required": "请选择要上传的文件。",
		"batch.rows_bad":      "文件中有错误行，全部改正后再上传；错误见上方列表。",
		"batch.material_hint": "上传的文件本身作为原始材料随件保存。",

		"queue.title": "待审队列", "queue.empty": "当前没有等待您所在岗位审核的件。", "queue.empty_kind": "该业务类型当前没有等待您审核的件。",
		"queue.all_kinds": "全部业务类型", "queue.apply": "筛选", "queue.count": "待审件数",
		"draft.title": "待审件", "draft.number": "编号", "draft.kind": "业务类型", "draft.summary": "摘要",
		"draft.status": "状态", "draft.stage": "环节", "draft.chain": "审核流程", "draft.maker": "经办人",
		"draft.updated": "更新时间", "draft.events": "入账事件", "draft.returned_because": "退回原因：",
		"draft.decide": "审核意见", "draft.approve": "通过", "draft.reject": "退回", "draft.reason": "退回原因",
		"draft.note": "修改说明", "draft.resubmit": "重新提交", "draft.facts": "采集内容", "draft.fact_type": "事项",
		"draft.fields": "内容", "draft.more_facts": "未列出的其余条目数：", "draft.materials": "原始材料",
		"draft.no_materials": "无原始材料。", "draft.history": "办理记录", "draft.when": "时间", "draft.who": "办理人",
		"draft.decision": "操作",

		"search.title": "人员查询", "search.purpose": "查询目的", "search.choose": "请选择",
		"search.submit": "查询", "search.logged": "每次查看个人记录都会记录查询人、时间和目的。",
		"search.purpose_required": "请选择查询目的。", "search.not_found": "没有找到该身份号码的参保人员。",

		"person.title": "个人权益记录", "person.logged": "本次查看已记入查询日志，目的：",
		"person.registration": "参保登记信息", "person.enrolments": "参保关系",
		"person.changes": "登记信息变更记录", "person.change_at": "变更时间", "person.change_what": "变更后", "person.phone_changed": "联系电话已变更", "person.from": "起始", "person.to": "终止",
		"person.flexible": "灵活就业", "person.none": "无。", "person.contributions": "缴费记录（按年度、险种汇总）",
		"person.year": "年度", "person.months": "月数", "person.arrears": "欠缴月数", "person.base": "缴费基数合计",
		"person.employer_amt": "单位缴费", "person.individual_amt": "个人缴费", "person.credit": "记入个人账户",
		"person.late_fee": "滞纳金", "person.account": "个人账户（养老）", "person.chart_title": "个人账户年末余额（元）",
		"person.chart_caption": "各年度年末余额，单位：元。", "person.opening": "年初余额", "person.credits": "当年记账",
		"person.transfers_in": "转入", "person.interest": "利息", "person.closing": "年末余额", "person.rate": "记账利率",
		"person.balance": "当前余额：", "person.years": "缴费年限", "person.months_paid": "实缴月数",
		"person.months_deemed": "视同缴费月数", "person.months_total": "合计月数", "person.in_years": "折合年数",
		"person.index": "平均缴费指数：", "person.estimate": "养老金测算", "person.retire_at": "法定退休年月：",
		"person.min_months": "最低缴费月数", "person.eligible": "已满足最低缴费年限", "person.not_eligible": "尚未满足最低缴费年限",
		"person.basic": "基础养老金", "person.account_pension": "个人账户养老金", "person.transitional": "过渡性养老金",
		"person.total": "合计", "person.payout_months": "计发月数",
		"person.estimate_hint": "按现有记录测算，仅供参考，以退休时核定为准。",
		"person.no_estimate":   "记录不足，暂不能测算。", "person.benefits": "待遇资格与待遇领取",
		"person.benefit_kind": "待遇类别", "person.amount": "金额（元）", "person.no_benefits": "无待遇领取记录。",

		"portal.own.title": "我的社会保险权益记录", "portal.employer.title": "本单位参保信息",
		"portal.employee.title": "职工在本单位的参保缴费信息",
		"employer.registration": "单位登记信息", "employer.name": "单位名称", "employer.credit_code": "统一社会信用代码",
		"employer.industry_class": "工伤行业类别", "employer.employees": "本单位参保职工", "employer.open": "查看",
		"employer.logged":     "查看职工信息会记入查询日志。",
		"employee.enrolments": "在本单位的参保关系", "employee.contributions": "在本单位期间的缴费（按年度、险种汇总）",
		"employee.scope": "仅显示该职工在本单位期间的登记和缴费信息。",

		"querylog.title": "查询日志", "querylog.total": "记录总数：", "querylog.actor": "查询人", "querylog.person": "人员编号",
		"querylog.page": "页面", "querylog.fields": "内容",

		"notice.submitted": "已提交，等待初审。", "notice.approved": "已通过。", "notice.rejected": "已退回经办人。",
		"notice.resubmitted": "已重新提交。",

		"err.title": "无法完成", "err.back": "返回首页", "err.bad_form": "表单无法读取（可能文件过大）。",
		"err.csrf": "表单已失效或来源不明，请刷新页面后重新提交。", "err.forbidden": "您所在的岗位无权访问此页面。",
		"err.not_found": "找不到该页面或记录。", "err.unauthorized": "请先登录。", "err.conflict": "该件状态已变化，请刷新后重试。",
		"err.invalid": "输入有误。", "err.internal": "系统内部错误，已记录。",
		"err.own_record_only": "只能查看本人的记录。", "err.not_employee": "该人员不是本单位职工，无权查看。",

		"stage.initial_review": "初审", "stage.review": "审核", "stage.recheck": "复核", "stage.approval": "审批",
		"status.in_review": "审核中", "status.returned": "已退回", "status.approved": "已入账", "status.withdrawn": "已撤回",
		"decision.submit": "提交", "decision.approve": "通过", "decision.reject": "退回", "decision.resubmit": "重新提交",
		"decision.withdraw": "撤回",
		"type.pension":      "养老保险", "type.medical": "医疗保险", "type.unemployment": "失业保险", "type.work_injury": "工伤保险",
		"type.maternity": "生育保险",
		"cstatus.paid":   "实缴", "cstatus.due": "应缴", "cstatus.arrears": "欠缴",
		"sex.male": "男", "sex.female": "女", "person.period": "所属期",
		"pstatus.active": "正常", "pstatus.deceased": "已死亡", "pstatus.deregistered": "已注销",
		"benefit.retirement": "退休（养老金）", "benefit.unemployment": "失业保险金", "benefit.work_injury": "工伤待遇",
		"benefit.maternity": "生育待遇", "benefit.medical": "医疗待遇",
		"purpose.counter": "窗口查询（本人申请）", "purpose.business": "业务经办", "purpose.review": "审核复核",
		"purpose.objection": "异议核查", "purpose.supervision": "监督检查",
		"unit.yuan": "元", "unit.yuan_month": "元/月", "unit.years": "岁", "unit.months": "个月",

		"kind.person_registration": "参保人员登记", "kind.person_change": "参保人员信息变更", "kind.employer_registration": "用人单位登记",
		"kind.employer_change": "用人单位变更", "kind.enrolment_start": "参保关系建立", "kind.enrolment_stop": "参保关系终止",
		"kind.contribution": "单笔缴费", "kind.contribution_batch": "月度缴费批量", "kind.subsidy": "补贴",
		"kind.eligibility": "待遇资格认定", "kind.benefit_payment": "待遇发放", "kind.deemed_period": "视同缴费年限",
		"kind.account_transfer_in": "个人账户转入", "kind.other": "其他权益信息", "kind.rule_set": "业务规则", "kind.maintenance": "数据维护",
		"fact.person.registered": "人员登记", "fact.person.changed": "人员信息变更", "fact.employer.registered": "单位登记",
		"fact.employer.changed": "单位变更", "fact.enrolment.started": "参保关系建立", "fact.enrolment.stopped": "参保关系终止",
		"fact.contribution.posted": "缴费", "fact.subsidy.granted": "补贴", "fact.eligibility.granted": "待遇资格",
		"fact.benefit.paid": "待遇发放", "fact.deemed.recorded": "视同缴费", "fact.account.transferred": "账户转移",
		"fact.other.recorded": "其他信息", "fact.ruleset.adopted": "业务规则", "fact.maintenance.logged": "维护日志", "fact.event.voided": "作废",

		// Validation rules of record.Error, shown next to the field; rules not listed show the domain message.
		"rule.required": "必填。", "rule.gb11643_length": "公民身份号码应为18位。", "rule.gb11643_digits": "前17位应为数字。",
		"rule.gb11643_check": "校验码不正确，请核对号码。", "rule.gb11643_birth_date": "号码中的出生日期无效。",
		"rule.gb32100_length": "统一社会信用代码应为18位。", "rule.gb32100_alphabet": "统一社会信用代码含有不允许的字符。",
		"rule.gb32100_region": "统一社会信用代码第3–8位应为行政区划代码。", "rule.gb32100_check": "统一社会信用代码校验码不正确。",
		"rule.region_code": "应为6位行政区划代码，如 110105。", "rule.name_length": "姓名应为1至50个字符。",
		"rule.date_format": "日期格式应为 年-月-日。", "rule.date_range": "日期超出允许范围。",
		"rule.period_format": "所属期应写作6位年月，如 202401。", "rule.period_range": "所属期的月份应为01–12。",
		"rule.period_not_future": "所属期不能晚于本月。", "rule.insurance_type": "请选择险种。",
		"rule.contribution_status": "请选择缴费状态。", "rule.wage_positive": "缴费工资应大于0。",
		"rule.yuan_format": "金额格式不正确，最多两位小数。", "rule.integer": "应为整数。",
		"rule.late_days_non_negative": "滞纳天数不能为负。", "rule.person_registered": "没有该身份号码的参保人员，请先办理参保登记。",
		"rule.person_not_registered": "该身份号码的人员已登记。", "rule.new_id_differs": "新身份号码与原号码相同。",
		"rule.new_id_free": "该身份号码已登记为另一参保人员，请核实是否重复登记。", "rule.date_order": "结束日期不能早于开始日期。",
		"rule.maintenance_type": "请从列表中选择数据类型。", "rule.new_id_by_maintenance": "身份号码更正须通过数据维护办理。",
		"rule.enrolment_type_required": "请至少选择一个险种。", "rule.reject_reason": "退回必须填写原因，以便经办人更正。", "rule.file_empty": "文件为空。",
		"rule.file_size": "文件过大。", "rule.material_name": "材料需要文件名。",
	},
	"en": {
		"app.name": "Social Insurance Rights Records", "app.skip": "Skip to content", "app.nav": "Main navigation",
		"app.signed_in_as": "Signed in as", "app.logout": "Sign out",
		"app.footer":   "Social insurance agency · private business network only · every query is logged",
		"area.console": "Staff console", "area.portal": "Self-service",

		"console.login.title": "Staff sign-in", "portal.login.title": "Sign-in for insured persons and employers",
		"console.login.hint": "Agency staff only. Repeated wrong passwords lock the account.",
		"portal.login.hint":  "An insured person sees only their own record; an employer only its own and its employees' records for their time there.",
		"login.username":     "User name", "login.password": "Password", "login.submit": "Sign in",
		"login.failed": "Wrong user name or password.", "login.locked": "The account is locked after repeated failed sign-ins; try again later or ask a system administrator.",

		"nav.dashboard": "Dashboard", "nav.intake_person": "Registration", "nav.intake_contribution": "Contribution",
		"nav.intake_batch": "Monthly batch", "nav.queue": "Review queue", "nav.persons": "Find a person", "nav.querylog": "Query log",
		"nav.portal_home": "My record",

		"dash.title": "Dashboard", "dash.waiting": "Drafts waiting per stage", "dash.stage": "Stage", "dash.count": "Drafts",
		"dash.today": "Events posted today", "dash.today_hint": "Events added by signed checkpoints since midnight.",
		"dash.checkpoint": "Latest signed checkpoint", "dash.size": "Events", "dash.root": "Root hash",
		"dash.my_drafts": "My drafts", "dash.no_drafts": "None.",

		"intake.person.title": "Person registration", "intake.person.registration": "Person",
		"intake.person.enrolment": "Insurance types", "intake.contribution.title": "Single contribution",
		"intake.batch.title": "Monthly contribution batch", "intake.submit": "Submit for review",
		"f.id_number": "Citizen ID number", "f.name": "Name", "f.region": "Region (6-digit code)", "f.registered_on": "Registered on",
		"f.phone": "Phone (optional)", "f.employer": "Employer's unified social credit code", "f.employer_hint": "Leave empty for flexible employment.",
		"f.enrol_from": "Insured from", "f.enrol_from_hint": "Empty means the registration date.", "f.materials": "Original materials (scans, files)",
		"f.materials_hint": "Several files allowed, each at most 50 MiB.", "f.period": "Period (YYYYMM, e.g. 202401)", "f.type": "Insurance type",
		"f.wage": "Declared wage (yuan)", "f.status": "Status", "f.late_days": "Days late (optional)", "f.sex": "Sex",
		"f.birth": "Born", "f.person_status": "Status",
		"batch.columns": "The first row names the columns:", "batch.file": "Batch file (CSV or XLSX)", "batch.file_required": "Choose a file to upload.",
		"batch.rows_bad":      "The file has bad rows; correct them all and upload again. They are listed above.",
		"batch.material_hint": "The uploaded file itself is kept as the draft's original material.",

		"queue.title": "Review queue", "queue.empty": "No drafts wait for your post.", "queue.empty_kind": "No drafts of this business type wait for you.",
		"queue.all_kinds": "All business types", "queue.apply": "Filter", "queue.count": "Drafts waiting:",
		"draft.title": "Draft", "draft.number": "Number", "draft.kind": "Business type", "draft.summary": "Summary",
		"draft.status": "Status", "draft.stage": "Stage", "draft.chain": "Review chain", "draft.maker": "Maker",
		"draft.updated": "Updated", "draft.events": "Recorded events", "draft.returned_because": "Returned because:",
		"draft.decide": "Decision", "draft.approve": "Approve", "draft.reject": "Return to maker", "draft.reason": "Reason",
		"draft.note": "What was corrected", "draft.resubmit": "Resubmit", "draft.facts": "Facts", "draft.fact_type": "Fact",
		"draft.fields": "Fields", "draft.more_facts": "Facts not listed:", "draft.materials": "Original materials",
		"draft.no_materials": "No materials.", "draft.history": "History", "draft.when": "When", "draft.who": "Who",
		"draft.decision": "Action",

		"search.title": "Find a person", "search.purpose": "Purpose", "search.choose": "Choose",
		"search.submit": "Find", "search.logged": "Every view of a person's record is logged with who, when and why.",
		"search.purpose_required": "Choose the purpose of the query.", "search.not_found": "No registered person has this ID number.",

		"person.title": "Rights record", "person.logged": "This view is logged in the query log; purpose:",
		"person.registration": "Registration", "person.enrolments": "Enrolments",
		"person.changes": "Changes to the registration", "person.change_at": "When", "person.change_what": "Changed to", "person.phone_changed": "Phone number changed", "person.from": "From", "person.to": "To",
		"person.flexible": "Flexible employment", "person.none": "None.", "person.contributions": "Contributions by year and insurance type",
		"person.year": "Year", "person.months": "Months", "person.arrears": "Months in arrears", "person.base": "Base total",
		"person.employer_amt": "Employer share", "person.individual_amt": "Individual share", "person.credit": "Account credit",
		"person.late_fee": "Late fees", "person.account": "Personal account (pension)", "person.chart_title": "Personal account balance at year end (yuan)",
		"person.chart_caption": "Balance at the end of each year, in yuan.", "person.opening": "Opening", "person.credits": "Credits",
		"person.transfers_in": "Transfers in", "person.interest": "Interest", "person.closing": "Closing", "person.rate": "Crediting rate",
		"person.balance": "Balance now:", "person.years": "Contribution years", "person.months_paid": "Months paid",
		"person.months_deemed": "Deemed months", "person.months_total": "Total months", "person.in_years": "Years",
		"person.index": "Average contribution index:", "person.estimate": "Pension estimate", "person.retire_at": "Statutory retirement:",
		"person.min_months": "minimum months", "person.eligible": "minimum contribution years reached", "person.not_eligible": "minimum contribution years not yet reached",
		"person.basic": "Basic pension", "person.account_pension": "Account pension", "person.transitional": "Transitional pension",
		"person.total": "Total", "person.payout_months": "Payout months",
		"person.estimate_hint": "An estimate from the record as it stands; the amount is fixed at retirement.",
		"person.no_estimate":   "Not enough record for an estimate yet.", "person.benefits": "Benefit eligibility and payments",
		"person.benefit_kind": "Benefit", "person.amount": "Amount (yuan)", "person.no_benefits": "No benefit payments.",

		"portal.own.title": "My social insurance record", "portal.employer.title": "Our employer record",
		"portal.employee.title": "Employee's record for their time with us",
		"employer.registration": "Registration", "employer.name": "Name", "employer.credit_code": "Unified social credit code",
		"employer.industry_class": "Work-injury industry class", "employer.employees": "Insured employees", "employer.open": "Open",
		"employer.logged":     "Views of employees' records are logged.",
		"employee.enrolments": "Enrolments through us", "employee.contributions": "Contributions while with us, by year and insurance type",
		"employee.scope": "Only the registration and the contributions of the employee's time with this employer are shown.",

		"querylog.title": "Query log", "querylog.total": "Entries:", "querylog.actor": "Viewer", "querylog.person": "Person key",
		"querylog.page": "Page", "querylog.fields": "Fields",

		"notice.submitted": "Submitted; waiting for initial review.", "notice.approved": "Approved.", "notice.rejected": "Returned to its maker.",
		"notice.resubmitted": "Resubmitted.",

		"err.title": "Cannot do that", "err.back": "Back to the start", "err.bad_form": "The form could not be read (the files may be too large).",
		"err.csrf": "The form has expired or did not come from this site; reload the page and submit again.", "err.forbidden": "Your posts do not open this page.",
		"err.not_found": "No such page or record.", "err.unauthorized": "Sign in first.", "err.conflict": "The draft has changed meanwhile; reload and try again.",
		"err.invalid": "The input is not valid.", "err.internal": "Internal error; it has been logged.",
		"err.own_record_only": "You can see only your own record.", "err.not_employee": "This person is not your employee.",

		"stage.initial_review": "Initial review", "stage.review": "Review", "stage.recheck": "Re-check", "stage.approval": "Approval",
		"status.in_review": "In review", "status.returned": "Returned", "status.approved": "Recorded", "status.withdrawn": "Withdrawn",
		"decision.submit": "Submitted", "decision.approve": "Approved", "decision.reject": "Returned", "decision.resubmit": "Resubmitted",
		"decision.withdraw": "Withdrawn",
		"type.pension":      "Pension", "type.medical": "Medical", "type.unemployment": "Unemployment", "type.work_injury": "Work injury",
		"type.maternity": "Maternity",
		"cstatus.paid":   "Paid", "cstatus.due": "Due", "cstatus.arrears": "Arrears",
		"sex.male": "Male", "sex.female": "Female", "person.period": "Period",
		"pstatus.active": "Active", "pstatus.deceased": "Deceased", "pstatus.deregistered": "Deregistered",
		"benefit.retirement": "Retirement pension", "benefit.unemployment": "Unemployment benefit", "benefit.work_injury": "Work-injury benefit",
		"benefit.maternity": "Maternity benefit", "benefit.medical": "Medical benefit",
		"purpose.counter": "Counter query (the person's request)", "purpose.business": "Business handling", "purpose.review": "Review",
		"purpose.objection": "Objection check", "purpose.supervision": "Supervision",
		"unit.yuan": "yuan", "unit.yuan_month": "yuan a month", "unit.years": "years", "unit.months": "months",

		"kind.person_registration": "Person registration", "kind.person_change": "Person change", "kind.employer_registration": "Employer registration",
		"kind.employer_change": "Employer change", "kind.enrolment_start": "Enrolment start", "kind.enrolment_stop": "Enrolment stop",
		"kind.contribution": "Single contribution", "kind.contribution_batch": "Monthly batch", "kind.subsidy": "Subsidy",
		"kind.eligibility": "Benefit eligibility", "kind.benefit_payment": "Benefit payment", "kind.deemed_period": "Deemed period",
		"kind.account_transfer_in": "Account transfer in", "kind.other": "Other rights information", "kind.rule_set": "Rule set", "kind.maintenance": "Maintenance",
		"fact.person.registered": "Registration", "fact.person.changed": "Person change", "fact.employer.registered": "Employer registration",
		"fact.employer.changed": "Employer change", "fact.enrolment.started": "Enrolment start", "fact.enrolment.stopped": "Enrolment stop",
		"fact.contribution.posted": "Contribution", "fact.subsidy.granted": "Subsidy", "fact.eligibility.granted": "Eligibility",
		"fact.benefit.paid": "Benefit payment", "fact.deemed.recorded": "Deemed period", "fact.account.transferred": "Account transfer",
		"fact.other.recorded": "Other", "fact.ruleset.adopted": "Rule set", "fact.maintenance.logged": "Maintenance log", "fact.event.voided": "Voided",
	},
}

// text returns the message of key in lang, falling back to Chinese and then to the key itself.
func text(lang, key string) string {
	if m, ok := messages[lang][key]; ok {
		return m
	}
	if m, ok := messages["zh"][key]; ok {
		return m
	}
	return key
}

// ruleText returns a validation error's message for a person: in Chinese the catalogue's text for its rule
// when there is one; otherwise (and in English) the domain's own message, which names the rule broken.
func ruleText(lang string, e *record.Error) string {
	if lang == "zh" {
		if m, ok := messages["zh"]["rule."+e.Rule]; ok {
			return m
		}
	}
	return e.Message
}
