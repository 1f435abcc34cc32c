"""Every text the console shows, in Chinese and English, in one place.

``t(key, lang)`` looks a key up; a missing key is a programming error (KeyError in tests), never a
silently shown code. Codes from the services (roles, statuses, review reasons, dimensions) are
translated through ``code_label``.
"""

from __future__ import annotations

LANGS = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "app_name": ("碳效 · 信贷与监管控制台", "tanxiao · credit and supervision console"),
    "skip": ("跳到正文", "Skip to content"),
    "nav_home": ("首页", "Home"),
    "nav_queue": ("复核队列", "Review queue"),
    "nav_decisions": ("决策", "Decisions"),
    "nav_enterprises": ("企业", "Enterprises"),
    "nav_portfolio": ("贷款组合", "Portfolio"),
    "nav_regulator": ("监管报表", "Regulatory reports"),
    "nav_quote": ("报价", "Quote"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "switch_lang": ("English", "中文"),
    "token": ("访问令牌", "Access token"),
    "token_help": (
        "由管理员用 tanxiao token create 签发的令牌（tx_ 开头）。银行单点登录（OIDC）见 docs/console.md。",
        "The token an administrator issued with tanxiao token create (starts with tx_). "
        "Single sign-on (OIDC) through the bank: see docs/console.md.",
    ),
    "token_unknown": ("令牌无效、已过期或已吊销。", "The token is unknown, expired or revoked."),
    "dev_mode": (
        "开发模式：服务未要求令牌（TANXIAO_AUTH_REQUIRED=false），请选择要查看的角色。",
        "Development mode: the services require no token (TANXIAO_AUTH_REQUIRED=false); "
        "pick a role to view as.",
    ),
    "role": ("角色", "Role"),
    "lender": ("贷款机构", "Lender"),
    "lender_help": ("例如 huzhou-bank（演示贷款组合所属银行）", "e.g. huzhou-bank (owner of the demo book)"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "csrf_failed": ("表单已过期，请重新提交。", "The form expired; please submit it again."),
    "home_intro": ("请选择要做的事：", "What would you like to do?"),
    "home_officer": (
        "信贷员：打开复核队列或输入决策编号查看解释；企业页显示碳效档案与承诺进展。",
        "Credit officer: open the review queue or a decision id to see its explanation; "
        "the enterprise page shows the carbon profile and commitments.",
    ),
    "home_lender": (
        "贷款机构风险管理：查看贷款组合报告、按等级/行业/区县下钻与观察名单；可用“报价”生成新决策。",
        "Lender risk: the portfolio report with drill-down by grade, industry and county, "
        "and the watch list; "
        "Quote creates a new decision.",
    ),
    "home_regulator": (
        "监管：查看跨机构监管报表并下载 xlsx、PDF、CSV。",
        "Regulator: the cross-lender regulatory report, downloadable as xlsx, PDF and CSV.",
    ),
    "open_decision": ("打开决策", "Open decision"),
    "decision_id": ("决策编号", "Decision id"),
    "decision_id_help": (
        "形如 decisions/…；可从报价、复核队列或 tanxiao decisions list 获得。",
        "Like decisions/…; from a quote, the review queue or tanxiao decisions list.",
    ),
    "open": ("打开", "Open"),
    "decision": ("决策", "Decision"),
    "status": ("状态", "Status"),
    "st_approved": ("通过", "Approved"),
    "st_review": ("待人工复核", "Manual review needed"),
    "st_declined": ("拒绝", "Declined"),
    "st_overridden": ("已调整条款后批准", "Approved with overridden terms"),
    "st_booked": ("已放款入账", "Booked"),
    "override_in_force": ("生效条款（调整后）", "Terms in force (overridden)"),
    "final_rate": ("执行利率", "Final rate"),
    "base_rate": ("基准利率（LPR）", "Base rate (LPR)"),
    "adjustment": ("调整", "Adjustment"),
    "limit": ("核定额度", "Approved limit"),
    "requested": ("申请金额", "Requested"),
    "tenor": ("期限", "Tenor"),
    "months": ("个月", "months"),
    "product": ("产品", "Product"),
    "enterprise": ("企业", "Enterprise"),
    "grade": ("碳效等级", "Carbon grade"),
    "created": ("决策时间", "Decided at"),
    "review_reasons": ("复核原因", "Review reasons"),
    "decline_reasons": ("拒绝原因", "Decline reasons"),
    "explanation": ("解释", "Explanation"),
    "explanation_full": ("在新页面打开完整解释", "Open the full explanation page"),
    "review_trail": ("复核记录", "Review trail"),
    "no_trail": ("尚无复核操作。", "No review actions yet."),
    "review_unavailable": (
        "此版本的评分服务尚不提供复核接口。",
        "This scoring service does not offer review actions yet.",
    ),
    "action": ("操作", "Action"),
    "reason": ("理由", "Reason"),
    "reason_help": ("必填：写明依据，将记入审计记录。", "Required: the grounds, kept in the audit record."),
    "approve": ("批准", "Approve"),
    "decline": ("拒绝", "Decline"),
    "override": ("调整条款后批准", "Override terms"),
    "override_rate": ("调整后利率（基点）", "Overridden rate (bp)"),
    "override_limit": ("调整后额度（元）", "Overridden limit (yuan)"),
    "submit": ("提交", "Submit"),
    "four_eyes": (
        "四眼原则：超出政策范围或超过政策规定金额的条款调整，须由另一位审批人确认，本人不能确认。",
        "Four eyes: an override outside the policy bounds or above the policy's amount needs a second "
        "approver, never the officer who made it.",
    ),
    "action_done": ("已记录复核操作。", "The review action is recorded."),
    "pending_second": (
        "调整条款待第二位审批人确认（四眼原则）。",
        "The override waits for a second approver (four eyes).",
    ),
    "actor": ("操作人", "By"),
    "state_change": ("状态变化", "State"),
    "no_actions": ("当前状态下您没有可执行的复核操作。", "No review action is open to you in this state."),
    "text": ("说明", "Text"),
    "queue": ("复核队列", "Review queue"),
    "queue_empty": (
        "队列为空：目前没有需要人工复核的决策。新的报价若需复核会出现在这里。",
        "The queue is empty: no decision needs review. Quotes that need review appear here.",
    ),
    "filter": ("筛选", "Filter"),
    "apply": ("应用", "Apply"),
    "state": ("复核状态", "Review state"),
    "any": ("全部", "Any"),
    "enterprises": ("企业", "Enterprises"),
    "search_prefix": ("行业代码前缀", "Industry code prefix"),
    "region_prefix": ("区划代码前缀", "Region code prefix"),
    "no_enterprises": (
        "没有符合条件的企业。清空筛选条件，或用 tanxiao demo-data 载入演示数据。",
        "No enterprise matches. Clear the filters, or load demo data with tanxiao demo-data.",
    ),
    "uscc": ("统一社会信用代码", "USCC"),
    "industry": ("行业", "Industry"),
    "region": ("区县", "County"),
    "size": ("规模", "Size"),
    "profile": ("碳效档案", "Carbon profile"),
    "period": ("期间", "Period"),
    "carbon_intensity": ("碳排放强度（tCO2/万元）", "Carbon intensity (tCO2 per 10k yuan)"),
    "net_tco2": ("净排放（tCO2）", "Net emissions (tCO2)"),
    "grade_history": ("碳效等级历史", "Grade history"),
    "grade_history_caption": (
        "每年的碳效等级（1 级最优，5 级最差；纵轴从 0 起）",
        "Carbon grade per year (1 best, 5 worst; axis from 0)",
    ),
    "no_profiles": (
        "该企业还没有已评级的年度档案：导入其月度数据（tanxiao import records）后会自动计算。",
        "No graded yearly profile yet: import its monthly records (tanxiao import records) "
        "and it is computed.",
    ),
    "trend": ("趋势", "Trend"),
    "projected_grade": ("预计下一年等级", "Projected grade next year"),
    "quality": ("数据质量", "Data quality"),
    "quality_score": ("质量分（0–100）", "Quality score (0–100)"),
    "pcaf": ("PCAF 数据质量等级（1 最好）", "PCAF data-quality score (1 best)"),
    "no_flags": ("没有数据质量提示。", "No data-quality flags."),
    "commitments": ("减排承诺", "Commitments"),
    "no_commitments": (
        "没有登记的减排承诺。技改贷款需先登记承诺（RegisterCommitment）。",
        "No registered commitment. Retrofit loans need one registered first (RegisterCommitment).",
    ),
    "achieved": ("已实现", "Achieved"),
    "expected": ("应实现", "Expected"),
    "consent": ("数据授权", "Consent"),
    "consent_unavailable": (
        "企业数据授权由登记机构记录（tanxiao consent grant），您的角色不能查看授权登记。",
        "Consents are recorded by the registry operator (tanxiao consent grant); your role cannot list them.",
    ),
    "no_consents": (
        "没有有效的数据授权：贷款机构报价前须由登记机构记录企业授权（tanxiao consent grant）。",
        "No active consent: before a lender can quote, the registry operator records the enterprise's "
        "consent (tanxiao consent grant).",
    ),
    "consent_scopes": ("授权范围", "Scopes"),
    "consent_until": ("有效期至", "Valid until"),
    "portfolio": ("贷款组合报告", "Portfolio report"),
    "as_of": ("报告日", "As of"),
    "loans": ("笔数", "Loans"),
    "outstanding": ("余额（元）", "Outstanding (yuan)"),
    "financed_tco2": ("融资排放（tCO2/年）", "Financed emissions (tCO2/yr)"),
    "wdqs": ("加权数据质量分", "Weighted data quality"),
    "waci": ("WACI", "WACI"),
    "share": ("余额占比", "Share"),
    "green_share": ("绿色占比", "Green share"),
    "transition_share": ("转型占比", "Transition share"),
    "grade5_share": ("5 级企业余额占比", "Grade-5 share"),
    "drill": ("下钻维度", "Drill down by"),
    "watch_list": ("观察名单", "Watch list"),
    "watch_help": (
        "5 级（高碳）借款人及融资排放最高的企业。",
        "Grade-5 borrowers and the largest financed emitters.",
    ),
    "watch_empty": ("观察名单为空。", "The watch list is empty."),
    "no_loans": (
        "该机构尚无贷款。用 tanxiao import loans 导入贷款台账，或在 make run 的演示数据中选择 huzhou-bank。",
        "This lender has no loans. Import its book with tanxiao import loans, or pick huzhou-bank "
        "(the demo book of make run).",
    ),
    "download": ("下载", "Download"),
    "downloads": ("下载报表", "Downloads"),
    "regulator": ("监管报表", "Regulatory report"),
    "lenders": ("各贷款机构", "By lender"),
    "no_regulatory": (
        "报告日没有任何机构的贷款。换一个报告日，或先导入贷款台账。",
        "No lender has loans on this date. Try another date, or import loan books first.",
    ),
    "quote": ("报价", "Quote"),
    "quote_help": (
        "为一家企业按当前贷款政策报价；生成的决策会记入审计链。",
        "Price a loan for an enterprise under the current policy; the decision is kept in the audit chain.",
    ),
    "amount": ("金额（元）", "Amount (yuan)"),
    "base_rate_bp": ("本行自定基准利率（基点，可空）", "The lender's own base rate (bp, optional)"),
    "base_rate_help": (
        "留空则按期限对应的 LPR 定价（一年期或五年期以上）。",
        "Empty: priced on the LPR of the tenor (1-year, or over 5 years).",
    ),
    "bank_limit": ("本行授信额度（元，可空）", "The lender's own credit limit (yuan, optional)"),
    "bank_limit_help": (
        "来自本行授信审查；留空则以申请金额为基数，并进入人工复核。",
        "From the lender's own credit analysis; empty: the request is the base and the quote goes to review.",
    ),
    "request_id": ("请求编号（幂等键）", "Request id (idempotency key)"),
    "error": ("出错了", "Something went wrong"),
    "err_forbidden": (
        "无权查看：这条数据不属于您的机构，或您的角色不能访问。",
        "Not allowed: this belongs to another lender, or your role may not see it.",
    ),
    "err_not_found": (
        "找不到该记录，或它不属于您的机构。",
        "Not found, or it does not belong to your institution.",
    ),
    "err_unavailable": ("服务暂不可用：", "The service is not available: "),
    "err_invalid": ("输入有误：", "Invalid input: "),
    "err_sign_in": ("请先登录。", "Please sign in first."),
    "back_home": ("返回首页", "Back to the home page"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "beijing_time": ("北京时间", "Beijing time"),
}

# Codes from the services, by kind: never shown raw.
CODES: dict[str, dict[str, tuple[str, str]]] = {
    "role": {
        "credit_officer": ("信贷员", "Credit officer"),
        "lender": ("贷款机构", "Lender"),
        "regulator": ("监管机构", "Regulator"),
        "admin": ("管理员", "Administrator"),
        "approver": ("审批人", "Approver"),
        "data_provider": ("数据提供方", "Data provider"),
        "service": ("服务", "Service"),
    },
    "product": {
        "GENERAL": ("流动资金贷款", "Working capital"),
        "LOW_CARBON_EXPANSION": ("碳效贷（低碳扩产）", "Carbon-efficiency loan (low-carbon expansion)"),
        "HIGH_CARBON_RETROFIT": ("节能技改贷款", "Retrofit loan"),
        "PRODUCT_UNSPECIFIED": ("未指定", "Unspecified"),
    },
    "dimension": {
        "GRADE": ("碳效等级", "Grade"),
        "LEVEL": ("碳效水平", "Carbon level"),
        "INDUSTRY_SECTION": ("行业门类", "Industry section"),
        "INDUSTRY_DIVISION": ("行业大类", "Industry division"),
        "COUNTY": ("区县", "County"),
        "CITY": ("地市", "City"),
        "PRODUCT": ("产品", "Product"),
        "LENDER": ("贷款机构", "Lender"),
    },
    "trend": {
        "IMPROVING": ("改善", "Improving"),
        "STABLE": ("平稳", "Stable"),
        "WORSENING": ("恶化", "Worsening"),
        "INSUFFICIENT_DATA": ("数据不足", "Not enough data"),
        "TREND_DIRECTION_UNSPECIFIED": ("未计算", "Not computed"),
    },
    "commitment_status": {
        "ON_TRACK": ("按计划推进", "On track"),
        "AT_RISK": ("存在风险", "At risk"),
        "MISSED": ("未达成", "Missed"),
        "ACHIEVED": ("已达成", "Achieved"),
        "NOT_STARTED": ("未开始", "Not started"),
        "COMMITMENT_STATUS_UNSPECIFIED": ("未评估", "Not assessed"),
    },
    "size": {
        "ABOVE_DESIGNATED_SIZE": ("规模以上", "Above designated size"),
        "BELOW_DESIGNATED_SIZE": ("规模以下", "Below designated size"),
        "SIZE_CLASS_UNSPECIFIED": ("未知", "Unknown"),
    },
    "severity": {
        "ERROR": ("错误", "Error"),
        "WARNING": ("警告", "Warning"),
        "INFO": ("提示", "Note"),
    },
    "review_state": {
        "QUOTED": ("已报价", "Quoted"),
        "IN_REVIEW": ("待复核", "In review"),
        "APPROVED": ("已批准", "Approved"),
        "DECLINED": ("已拒绝", "Declined"),
        "OVERRIDDEN": ("已调整条款", "Overridden"),
        "BOOKED": ("已放款入账", "Booked"),
        "DECISION_STATE_UNSPECIFIED": ("未知", "Unknown"),
    },
    "review_action": {
        "SUBMIT_FOR_REVIEW": ("提交复核", "Submit for review"),
        "APPROVE": ("批准", "Approve"),
        "DECLINE": ("拒绝", "Decline"),
        "OVERRIDE": ("调整条款", "Override terms"),
        "CONFIRM_OVERRIDE": ("复核确认调整（第二人）", "Confirm the override (second officer)"),
        "REJECT_OVERRIDE": ("退回调整", "Reject the override"),
        "BOOK": ("放款入账", "Book"),
    },
    "consent_scope": {
        "CARBON_DATA": ("碳排放数据", "Carbon data"),
        "FINANCIALS": ("财务数据", "Financials"),
        "CONSENT_SCOPE_UNSPECIFIED": ("未指定", "Unspecified"),
    },
    "review_reason": {
        "CAPACITY_CONFIRMED": ("还款能力已核实", "Repayment capacity confirmed"),
        "COLLATERAL_ADEQUATE": ("担保充足", "Collateral adequate"),
        "DATA_VERIFIED": ("数据已核实", "Data verified"),
        "POLICY_EXCEPTION": ("政策例外（已审批）", "Policy exception (authorised)"),
        "INSUFFICIENT_CAPACITY": ("还款能力不足", "Insufficient repayment capacity"),
        "DATA_DOUBTFUL": ("数据存疑", "Data doubtful"),
        "TERMS_ADJUSTED": ("条款已调整", "Terms adjusted"),
    },
}


def t(key: str, lang: str) -> str:
    zh, en = MESSAGES[key]
    return zh if lang == "zh" else en


def code_label(kind: str, code: str, lang: str) -> str:
    """The name of a service code; a code the catalogue lacks shows as itself (a test lists them)."""
    if kind == "reason":  # loan-policy reason codes: the scoring service's own catalogue
        from scoring_service.explain import CODE_LABELS

        pair = CODE_LABELS.get(code)
    else:
        pair = CODES.get(kind, {}).get(code)
    if pair is None:
        return code
    return pair[0] if lang == "zh" else pair[1]
