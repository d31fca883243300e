package web

import "fmt"

// The texts of the intake forms, the employer and journal pages, paging and the validation rules, added to the
// catalogue (messages.go) by addMessages so that pages can be added side by side without editing one map.

func init() {
	addMessages(map[string]map[string]string{
		"zh": {
			"nav.intake": "业务受理", "nav.employers": "单位查询", "nav.journal": "日志核验", "nav.portal_contributions": "本单位缴费",

			"intake.title": "业务受理", "intake.index_hint": "选择业务类型。每件业务提交后按所示流程逐级审核，审批通过后才记入权益记录。",
			"intake.chain": "审核流程：", "intake.materials_again": "表单有误，上传的材料未保存：改正后请重新选择文件。",
			"intake.group.person": "参保人员", "intake.group.employer": "用人单位", "intake.group.contribution": "缴费与补贴",
			"intake.group.benefit": "待遇", "intake.group.account": "缴费年限与个人账户", "intake.group.other": "其他",
			"intake.group.maintenance":     "数据维护",
			"intake.person_change.intro":   "只填写需要变更的项目，其余留空。身份号码更正须经公安部门核实，请走数据维护。",
			"intake.employer_change.intro": "只填写需要变更的项目，其余留空；单位注销请将状态改为“已注销”。",
			"intake.rule_set.intro":        "业务规则以规则文件格式提交（见 docs/RULES.md），审批通过后自生效期起用于计算。",

			"f.optional": "（选填）", "f.unchanged": "不变更", "f.new_name": "新姓名", "f.new_phone": "新联系电话",
			"f.new_id_number": "更正后的公民身份号码", "f.new_id_number_hint": "仅在公安机关更正身份号码时填写，并上传公安机关出具的证明；出生日期和性别随新号码更正。",
			"intake.person_correction.intro": "只填写需要变更的项目，其余留空。身份号码更正以公安机关证明为据。", "f.death_date": "死亡日期",
			"f.change_reason": "变更原因", "f.enrol_to": "参保终止日期", "f.stop_reason": "终止原因",
			"f.new_employer_name": "新单位名称", "f.employer_status": "单位状态", "f.period_hint": "6位年月，如 202401。",
			"f.yuan_hint": "单位：元，最多两位小数。", "f.subsidy_kind": "补贴项目", "f.subsidy_kind_hint": "如：灵活就业人员社会保险补贴。",
			"f.amount": "金额（元）", "f.eligibility_kind": "待遇资格类别", "f.eligible_from": "资格起始日期",
			"f.eligible_to": "资格终止日期", "f.decision": "认定文书编号", "f.deemed_from": "视同缴费起始年月",
			"f.deemed_to": "视同缴费终止年月", "f.basis": "认定依据", "f.other_region": "转出地统筹区代码",
			"f.other_region_hint": "6位行政区划代码。", "f.transfer_period": "转入年月", "f.transfer_amount": "转入金额（元）",
			"f.other_kind": "信息类别", "f.other_kind_hint": "如：劳动模范、军龄。", "f.attributes": "信息内容",
			"f.attributes_hint": "每行一项，写作 名称=内容。", "f.rule_body": "规则文件内容",
			"f.rule_body_hint": "TOML 格式；也可以上传规则文件。", "f.or_file": "或上传规则文件", "f.void_reason": "作废原因",
			"f.supersedes": "更正的事件号", "f.supersedes_hint": "人员页面各条记录左侧的事件号；补充新记录时留空。",
			"f.fact_type": "事项", "f.fact_type_hint": "补充新记录时选择；更正时按原事件自动确定，作废时选择“作废”。",
			"f.maint_reason": "维护原因", "f.maint_method": "处理方式", "f.maint_method_hint": "如：依据单位提供的工资表更正缴费工资。",
			"f.direction": "方向",
			"fixed.in":    "转入", "fixed.out": "转出",
			"industry.1": "一类", "industry.2": "二类", "industry.3": "三类", "industry.4": "四类", "industry.5": "五类",
			"industry.6": "六类", "industry.7": "七类", "industry.8": "八类", "industry.0": "—",

			"maint.fact_type_unknown": "数据维护不能处理这种事项。", "maint.event_number": "事件号应为非负整数。",
			"maint.event_not_found": "没有这个事件号。", "maint.same_type": "更正须与原事件的事项相同；撤销原事件请选择“作废”。",
			"maint.choose_hint":   "更正已入账的记录：填写事件号，系统按原记录填好表单。补充新记录：只选择事项。",
			"maint.type_of_event": "按原事件", "maint.next": "下一步", "maint.what": "维护内容", "maint.change": "重新选择",
			"maint.fact": "更正或补充后的内容",

			"draft.edit_title": "更正退回件", "draft.edit_hint": "按退回原因修改后重新提交，将从第一个审核环节重新开始。",
			"draft.edit": "修改并重新提交", "draft.returned_title": "本件已退回给您", "draft.resubmit_unchanged": "不修改，重新提交",
			"draft.withdraw": "撤回本件", "draft.withdraw_reason": "撤回原因", "draft.withdraw_confirm": "我确认撤回本件，撤回后不能恢复。",
			"draft.withdraw_confirm_required": "请勾选确认后再撤回。", "draft.materials_kept": "已上传的原始材料随件保留。",
			"draft.materials_add": "补充材料（选填）", "draft.materials_add_hint": "退回时要求补充的材料在此上传，可多选；随件重新提交审核。",
			"draft.supersedes": "更正事件号",

			"err.maker_only": "只有本件的经办人可以这样做。", "err.not_returned": "只有已退回的件可以修改。",
			"err.no_edit_form": "这类件没有修改表单，请撤回后重新受理。", "err.export_format": "导出格式应为 CSV 或 XLSX。",
			"err.export_too_big": "要导出的行数过多，请按年度或险种缩小范围。",
			"notice.withdrawn":   "已撤回。", "notice.verify_started": "已开始核验，进度见下。", "notice.verify_running": "已有核验正在进行。",

			"pager.label": "分页", "pager.first": "首页", "pager.prev": "上一页", "pager.page": "第", "pager.next": "下一页",
			"pager.last": "末页", "pager.total": "共计",

			"employer.search_title": "用人单位查询", "employer.query_required": "请填写统一社会信用代码或单位名称。",
			"employer.title": "用人单位信息", "employer.contributions": "单位缴费（按所属期、险种汇总）", "employer.persons": "人数",
			"employer.total_selected": "合计（所选范围）", "employer.sections": "单位信息分栏",
			"employer.contributions_scope": "统计本单位参保职工在本单位名下的缴费记录。", "employer.types_here": "在本单位参保险种",
			"employer.current": "至今", "employer.query": "统一社会信用代码或单位名称",
			"employer.query_hint":    "输入完整代码直接打开；输入名称中的字词列出匹配单位。",
			"employer.search_logged": "查看单位职工名单会按职工逐一记入查询日志。", "employer.not_found": "没有匹配的用人单位。",
			"filter.all_years": "全部年度", "filter.all_types": "全部险种", "filter.apply": "筛选", "export.label": "导出：",
			"sort.label": "排序：", "sort.name": "按姓名", "sort.from": "按参保时间（新的在前）",

			"search.results": "查询结果", "search.id_or_name": "请填写公民身份号码或姓名。",
			"search.name_not_found": "没有以该姓名登记的参保人员。", "search.or_name": "或姓名",
			"search.name_hint":   "按姓名查询须与登记姓名完全一致；结果列表中身份号码已遮蔽。",
			"search.list_logged": "列表中的每个人都已记入查询日志。",

			"person.months_title": "逐月缴费明细", "person.event": "事件号", "person.by_month": "逐月明细：",
			"person.subsidies": "补贴", "person.deemed_transfers": "视同缴费与账户转移", "person.transfers": "个人账户转移",
			"person.direction": "方向", "person.back": "返回个人权益记录", "person.months_detail": "逐月明细",
			"person.base_month": "缴费基数", "person.correct_hint": "点击事件号可发起数据维护（更正）。",

			"portal.contributions.title": "本单位缴费",

			"journal.title": "日志与核验", "journal.checkpoint": "最新签名检查点",
			"journal.checkpoint_bad": "最新检查点不能用本机构公钥验证：", "journal.origin": "来源", "journal.root_hex": "根哈希（十六进制）",
			"journal.signed_at": "签名时间", "journal.note": "签名检查点全文", "journal.verifier_key": "验证公钥",
			"journal.verifier_hint": "审计人员凭此公钥和数据库即可独立核验（sirec verify）。", "journal.verify": "核验记录",
			"journal.running": "正在核验：", "journal.started_by": "发起人", "journal.verify_now": "立即核验",
			"journal.verify_hint": "逐条核对事件、默克尔树、全部签名检查点，并重放日志核对各汇总表；在后台进行。",
			"journal.job_error":   "上次核验未能完成：", "journal.finished": "完成时间", "journal.result": "结果", "journal.by": "发起",
			"journal.rows": "核对行数", "journal.took": "用时", "journal.ok": "通过", "journal.failed": "未通过",
			"journal.no_runs": "尚无核验记录。", "journal.cli_hint": "也可在服务器上运行", "journal.recent": "最近的签名检查点",
			"dash.verify": "最新核验结果", "dash.to_queue": "进入待审队列", "dash.to_journal": "查看日志与核验",

			// Validation rules of record.Error (and of the forms) that messages.go does not name yet.
			"rule.period_month": "所属期的月份应为01–12。", "rule.period_year": "所属期的年份超出范围（1950–2200）。",
			"rule.money_format": "金额应写作元，最多两位小数，如 1396.82。", "rule.industry_class_range": "请选择工伤行业类别（一至八类）。",
			"rule.person_status": "状态只能为正常或已死亡。", "rule.employer_status": "单位状态只能为正常或已注销。",
			"rule.change_empty": "至少填写一项要变更的内容。", "rule.text_length": "内容过长，最多500字。",
			"rule.amount_positive": "金额应大于0。", "rule.amount_non_negative": "金额不能为负。",
			"rule.eligibility_kind": "请选择待遇资格类别。", "rule.benefit_kind": "请选择待遇类别。",
			"rule.period_order": "终止年月不能早于起始年月。", "rule.transfer_direction": "方向只能为转入或转出。",
			"rule.transfer_in": "个人账户转入件只能记录转入。", "rule.attributes_required": "至少填写一项信息内容。",
			"rule.attribute_name": "信息名称应为1至64个字符。", "rule.attribute_line": "每行应写作 名称=内容。",
			"rule.employer_registered":     "没有以该统一社会信用代码登记的用人单位。",
			"rule.employer_not_registered": "该统一社会信用代码的用人单位已登记。",
			"rule.supersedes_seq":          "事件号应为非负整数。", "rule.void_names_event": "作废须填写要作废的事件号。",
			"rule.kind_fact_type": "请选择事项。", "rule.maintenance_reason": "请填写维护原因。",
			"rule.maintenance_method": "请填写处理方式。", "rule.withdraw_reason": "撤回须填写原因。",
			"rule.supersedable_type": "这类事件不能由数据维护更正。",
		},
		"en": {
			"nav.intake": "Intake", "nav.employers": "Find an employer", "nav.journal": "Journal", "nav.portal_contributions": "Our contributions",

			"intake.title": "Intake", "intake.index_hint": "Choose the business type. Each draft passes the review chain shown; only the final approval records it.",
			"intake.chain": "Review chain:", "intake.materials_again": "The form has errors and the uploaded files were not kept: choose them again after correcting.",
			"intake.group.person": "Insured persons", "intake.group.employer": "Employers", "intake.group.contribution": "Contributions and subsidies",
			"intake.group.benefit": "Benefits", "intake.group.account": "Contribution years and personal account", "intake.group.other": "Other",
			"intake.group.maintenance":     "Maintenance",
			"intake.person_change.intro":   "Fill in only what changes; leave the rest empty. An ID number correction, confirmed by public security, goes through maintenance.",
			"intake.employer_change.intro": "Fill in only what changes; leave the rest empty. To deregister an employer, set its status to deregistered.",
			"intake.rule_set.intro":        "A rule set is submitted in the rule-set file format (see docs/RULES.md); once approved it applies from its effective date.",

			"f.optional": " (optional)", "f.unchanged": "Unchanged", "f.new_name": "New name", "f.new_phone": "New phone",
			"f.new_id_number": "Corrected citizen ID number", "f.new_id_number_hint": "Only when public security has corrected the ID number; upload its certificate. Date of birth and sex follow the new number.",
			"intake.person_correction.intro": "Fill in only what changes; leave the rest empty. An ID number correction rests on public security's certificate.", "f.death_date": "Date of death",
			"f.change_reason": "Reason for the change", "f.enrol_to": "Insured until", "f.stop_reason": "Reason for stopping",
			"f.new_employer_name": "New employer name", "f.employer_status": "Employer status", "f.period_hint": "Year and month, YYYYMM, e.g. 202401.",
			"f.yuan_hint": "In yuan, up to two decimals.", "f.subsidy_kind": "Subsidy", "f.subsidy_kind_hint": "E.g. social insurance subsidy for flexible employment.",
			"f.amount": "Amount (yuan)", "f.eligibility_kind": "Eligibility", "f.eligible_from": "Eligible from",
			"f.eligible_to": "Eligible until", "f.decision": "Decision document number", "f.deemed_from": "Deemed from (YYYYMM)",
			"f.deemed_to": "Deemed until (YYYYMM)", "f.basis": "Basis", "f.other_region": "Region transferred from",
			"f.other_region_hint": "6-digit region code.", "f.transfer_period": "Month of the transfer", "f.transfer_amount": "Amount transferred (yuan)",
			"f.other_kind": "Kind of information", "f.other_kind_hint": "E.g. model worker, years of military service.", "f.attributes": "Details",
			"f.attributes_hint": "One per line, written name=value.", "f.rule_body": "Rule-set text",
			"f.rule_body_hint": "TOML; or upload the rule-set file.", "f.or_file": "or upload the rule-set file", "f.void_reason": "Reason for voiding",
			"f.supersedes": "Event corrected", "f.supersedes_hint": "The event number shown beside each row of the person's page; empty to add a new record.",
			"f.fact_type": "Fact", "f.fact_type_hint": "Choose it to add a record; a correction takes the corrected event's, and a void is \"Voided\".",
			"f.maint_reason": "Reason for the maintenance", "f.maint_method": "How it is handled", "f.maint_method_hint": "E.g. wage corrected from the employer's payroll.",
			"f.direction": "Direction",
			"fixed.in":    "In", "fixed.out": "Out",
			"industry.1": "Class 1", "industry.2": "Class 2", "industry.3": "Class 3", "industry.4": "Class 4", "industry.5": "Class 5",
			"industry.6": "Class 6", "industry.7": "Class 7", "industry.8": "Class 8", "industry.0": "—",

			"maint.fact_type_unknown": "Maintenance does not handle this kind of fact.", "maint.event_number": "An event number is a whole number from 0.",
			"maint.event_not_found": "There is no such event.", "maint.same_type": "A correction has the type of the event it corrects; to withdraw the event, choose \"Voided\".",
			"maint.choose_hint":   "To correct a recorded row, give its event number: the form is filled from it. To add a record, choose only the fact.",
			"maint.type_of_event": "As the event", "maint.next": "Next", "maint.what": "What is maintained", "maint.change": "Choose again",
			"maint.fact": "The corrected or added fact",

			"draft.edit_title": "Correct a returned draft", "draft.edit_hint": "Correct it as the reason says and resubmit: review starts again at the first stage.",
			"draft.edit": "Correct and resubmit", "draft.returned_title": "This draft was returned to you", "draft.resubmit_unchanged": "Resubmit unchanged",
			"draft.withdraw": "Withdraw this draft", "draft.withdraw_reason": "Reason for withdrawing", "draft.withdraw_confirm": "I confirm the withdrawal; it cannot be undone.",
			"draft.withdraw_confirm_required": "Tick the confirmation first.", "draft.materials_kept": "The materials uploaded stay with the draft.",
			"draft.materials_add": "Add materials (optional)", "draft.materials_add_hint": "Upload what the reviewer asked for; several files may be chosen. They go back to review with the draft.",
			"draft.supersedes": "Corrects event",

			"err.maker_only": "Only the draft's maker can do that.", "err.not_returned": "Only a returned draft can be corrected.",
			"err.no_edit_form": "This draft has no correction form; withdraw it and take it in again.", "err.export_format": "The export format is CSV or XLSX.",
			"err.export_too_big": "Too many rows to export; narrow it by year or insurance type.",
			"notice.withdrawn":   "Withdrawn.", "notice.verify_started": "Verification started; its progress is below.", "notice.verify_running": "A verification is running already.",

			"pager.label": "Pages", "pager.first": "First", "pager.prev": "Previous", "pager.page": "Page", "pager.next": "Next",
			"pager.last": "Last", "pager.total": "Total",

			"employer.search_title": "Find an employer", "employer.query_required": "Give a credit code or part of a name.",
			"employer.title": "Employer", "employer.contributions": "Contributions by period and insurance type", "employer.persons": "Persons",
			"employer.total_selected": "Total (as selected)", "employer.sections": "Employer sections",
			"employer.contributions_scope": "Sums of the contribution rows naming this employer, of its insured employees.", "employer.types_here": "Insured here for",
			"employer.current": "now", "employer.query": "Unified social credit code or employer name",
			"employer.query_hint":    "A whole code opens the employer; words of a name list the employers that match.",
			"employer.search_logged": "Viewing an employer's employees logs a view of each employee listed.", "employer.not_found": "No employer matches.",
			"filter.all_years": "All years", "filter.all_types": "All insurance types", "filter.apply": "Filter", "export.label": "Export:",
			"sort.label": "Order:", "sort.name": "by name", "sort.from": "by enrolment date (newest first)",

			"search.results": "Results", "search.id_or_name": "Give a citizen ID number or a name.",
			"search.name_not_found": "No person is registered under this name.", "search.or_name": "or name",
			"search.name_hint":   "A name must match the registered name exactly; ID numbers are masked in the list.",
			"search.list_logged": "Each person listed is logged in the query log.",

			"person.months_title": "Contributions month by month", "person.event": "Event", "person.by_month": "Month by month:",
			"person.subsidies": "Subsidies", "person.deemed_transfers": "Deemed periods and account transfers", "person.transfers": "Personal account transfers",
			"person.direction": "Direction", "person.back": "Back to the rights record", "person.months_detail": "Month by month",
			"person.base_month": "Base", "person.correct_hint": "An event number starts a maintenance (correction) of that row.",

			"portal.contributions.title": "Our contributions",

			"journal.title": "Journal and verification", "journal.checkpoint": "Latest signed checkpoint",
			"journal.checkpoint_bad": "The latest checkpoint does not verify under the agency's key:", "journal.origin": "Origin", "journal.root_hex": "Root hash (hex)",
			"journal.signed_at": "Signed at", "journal.note": "The signed checkpoint", "journal.verifier_key": "Verifier key",
			"journal.verifier_hint": "With this public key and the database an auditor verifies independently (sirec verify).", "journal.verify": "Verifications",
			"journal.running": "Verifying:", "journal.started_by": "started by", "journal.verify_now": "Verify now",
			"journal.verify_hint": "Checks every event, the Merkle tree, every signed checkpoint, and replays the journal against the projections; runs in the background.",
			"journal.job_error":   "The last verification could not run:", "journal.finished": "Finished", "journal.result": "Result", "journal.by": "By",
			"journal.rows": "Rows compared", "journal.took": "Took", "journal.ok": "Passed", "journal.failed": "Failed",
			"journal.no_runs": "No verification yet.", "journal.cli_hint": "On the server, run", "journal.recent": "Recent signed checkpoints",
			"dash.verify": "Latest verification", "dash.to_queue": "Open the review queue", "dash.to_journal": "Journal and verification",
		},
	})
}

// addMessages adds texts to the catalogue. A key given twice is a programming error: it panics at start-up.
func addMessages(m map[string]map[string]string) {
	for lang, texts := range m {
		for k, t := range texts {
			if _, dup := messages[lang][k]; dup {
				panic(fmt.Sprintf("web: message %s/%s defined twice", lang, k))
			}
			messages[lang][k] = t
		}
	}
}
