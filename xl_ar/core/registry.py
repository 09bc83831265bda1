"""The one registry of settings: every key of the Settings sheet, its default, type and meaning.

The new-ledger Settings sheet lists these (in this order, with both notes), the parsers look
keys up here (English or Chinese, ignoring case, spaces, ``_``, ``-`` and full-width forms),
and the README's settings table is made from it (:func:`markdown_table`; a test keeps the two
equal). A feature's parser still owns the checks particular to its values.

A password is never a setting: the SMTP password comes from the environment or the system
keyring only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

#: The feature a setting belongs to, in the order the README's table groups them.
FEATURES = ("ledger", "late fees", "credit", "kpis", "stages", "documents")


@dataclass(frozen=True)
class Setting:
    """One key of the Settings sheet.

    Attributes:
        key: the canonical (English) key, e.g. "AgingEdges".
        default: the default as written in the sheet (None = blank).
        kind: what the value is: date, currency, choice, number, integer, yes/no, list, map,
            period, text or e-mail.
        feature: which part of xl-ar reads it (one of :data:`FEATURES`).
        note_en, note_zh: what it means, in English and Chinese.
        aliases: other keys accepted for it (Chinese names).
    """

    key: str
    default: Any
    kind: str
    feature: str
    note_en: str
    note_zh: str
    aliases: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    # ---- ledger
    Setting('AsOfDate', None, 'date', 'ledger',
            'Date the ledger is aged at; blank = today',
            '账龄截止日期；空白 = 今天',
            ('截止日期', '账龄截止日', '基准日')),
    Setting('BaseCurrency', 'CNY', 'currency', 'ledger',
            'Currency of amounts with no currency',
            '本位币：未填币种的金额按此币种',
            ('本位币', '记账本位币')),
    Setting('Language', 'zh', 'choice', 'ledger',
            'zh or en: labels of reports and documents',
            'zh 或 en：报表和文书的语言',
            ('语言',)),
    Setting('AgingBasis', 'due', 'choice', 'ledger',
            'due = age from due date, invoice = from invoice date',
            'due = 按到期日，invoice = 按开票日',
            ('账龄依据', '账龄基准')),
    Setting('AgingEdges', '30,60,90', 'list', 'ledger',
            'Bucket edges in days, e.g. 30,60,90 or 30,60,90,180,365',
            '账龄分段天数',
            ('账龄分段', '账龄区间')),
    Setting('LateFeePolicy', 'daily', 'choice', 'late fees',
            'daily, annual, fixed, percent, cn-sme, uk-late-payment, eu-late-payment, de-bgb-288, jp-subcontract',
            '滞纳金规则',
            ('滞纳金规则', '违约金规则')),
    Setting('LateFeeRate', 0.0005, 'number', 'late fees',
            'Rate of the policy (daily: per day; annual: per year; fixed: the fee; percent: the share)',
            '滞纳金利率（日利率万分之五 = 0.0005）',
            ('滞纳金利率', '违约金比例')),
    Setting('LateFeeGraceDays', 0, 'integer', 'late fees',
            'Days after the due date without a fee',
            '宽限天数',
            ('宽限天数', '宽限期')),
    Setting('LateFeeCap', None, 'number', 'late fees',
            'Cap as a share of the principal, blank = none',
            '滞纳金上限（占本金比例），空白 = 不设上限',
            ('滞纳金上限', '违约金上限')),
    Setting('DecimalSeparator', None, 'choice', 'ledger',
            'Decimal mark of amounts typed as text: "." (1,234.50) or "," (1.234,50); blank = refuse "12,50" as ambiguous',
            '文本金额的小数点："." 或 ","；空白 = 含逗号的金额视为有歧义',
            ('小数点', '小数分隔符')),
    Setting('AutoApply', 'oldest', 'choice', 'ledger',
            'oldest = receipts and credit notes naming no invoice pay the oldest open invoices; '
            'none = they stay unapplied and are aged as negative items by their own date (open-item accounting)',
            'oldest = 未指明发票的收款和红字发票自动冲抵最早的未收发票；none = 保留为未核销，按自身日期作为负数计入账龄（逐笔核销）',
            ('自动核销', '核销方式')),
    # ---- credit
    Setting('CreditHoldDays', 15, 'integer', 'credit',
            'Hold a customer with an invoice more than this many days overdue, until it is paid',
            '发票逾期超过此天数即冻结客户（停止新订单），直至付清',
            ('冻结逾期天数', '信用冻结天数')),
    Setting('CreditHoldIncludesDisputed', 'no', 'yes/no', 'credit',
            'yes = disputed invoices also trigger a hold',
            'yes = 有争议的发票也触发冻结',
            ('争议发票计入冻结',)),
    Setting('CreditEarlyStreak', 3, 'integer', 'credit',
            'This many invoices in a row paid before the due date raise the suggested limit',
            '连续提前付款的发票张数，达到即建议提额',
            ('连续提前付款次数',)),
    Setting('CreditEarlyRaise', 0.15, 'number', 'credit',
            'Raise of the suggested limit after an early-payment streak (0.15 = +15%)',
            '连续提前付款后建议额度的上调比例（0.15 = 15%）',
            ('提前付款提额比例',)),
    Setting('CreditNegativeNewsFactor', 0.3, 'number', 'credit',
            'Limit multiplied by this when NegativeNews = yes (1,000,000 -> 300,000)',
            '客户有负面信息时额度乘以此系数（1,000,000 → 300,000）',
            ('负面信息额度系数',)),
    Setting('CreditReviewMonths', 3, 'integer', 'credit',
            'Months from LastReview to NextReview (3 = quarterly, 6 = half-yearly)',
            '信用复核周期（月）：3 = 每季度，6 = 每半年',
            ('信用复核周期', '复核周期月数')),
    Setting('CreditSalesMonths', 12, 'integer', 'credit',
            'Months of invoicing counted for volume and average monthly sales',
            '计算交易量和月均销售额的月数',
            ('销售统计月数',)),
    Setting('CreditScoreWeights', 'days_late=35,on_time=25,disputes=10,tenure=10,volume=10,utilisation=10', 'map', 'credit',
            "Weights of the score's factors (need not add up to 100)",
            '信用评分各因素权重（不必合计 100）',
            ('信用评分权重',)),
    Setting('CreditScoreAnchors', 'late_days=60,dispute_share=0.2,tenure_years=3,volume=1000000,utilisation_low=0.5,utilisation_high=1,no_data=0.5', 'map', 'credit',
            'Where each factor scores 0 or full marks; no_data = the value of a factor without data',
            '各因素得满分或零分的界点；no_data = 无数据时的取值',
            ('信用评分界点',)),
    Setting('CreditGradeCutoffs', 'A=80,B=65,C=50', 'map', 'credit',
            'Lowest score of grades A, B, C (below C: D)',
            '信用等级最低分：A、B、C（低于 C 为 D）',
            ('信用等级分数线',)),
    Setting('CreditLimitMonths', 'A=3,B=2,C=1,D=0', 'map', 'credit',
            'Suggested limit per grade, in months of average sales',
            '各等级建议额度 = 月均销售额 × 月数',
            ('等级额度月数',)),
    Setting('CreditLimitFixed', None, 'map', 'credit',
            'Fixed suggested limit per grade, e.g. A=500000,B=200000,C=50000,D=0; blank = use months',
            '各等级固定建议额度；空白 = 按月数计算',
            ('等级固定额度',)),
    Setting('CreditLimitRounding', 1000, 'number', 'credit',
            'Suggested limits are rounded down to a multiple of this',
            '建议额度向下取整到此金额的倍数',
            ('额度取整单位',)),
    Setting('CreditTermsByGrade', 'A=90,B=60,C=30,D=0', 'map', 'credit',
            'Suggested payment terms per grade in days (0 = cash)',
            '各等级建议账期天数（0 = 现款）',
            ('等级账期天数',)),
    Setting('CreditOrderClosedStatuses', 'shipped,cancelled,canceled,closed,invoiced,已发货,已取消,已关闭,已开票', 'list', 'credit',
            'Order statuses that no longer count as open orders in the exposure',
            '不计入敞口的订单状态',
            ('订单关闭状态',)),
    # ---- kpis
    Setting('OverdueRatioTarget', 0.05, 'number', 'kpis',
            'Target overdue ratio (overdue / open); 0.05 = under 5%',
            '逾期率目标（逾期金额 / 应收余额），0.05 = 低于 5%',
            ('逾期率目标',)),
    Setting('DsoPeriod', 90, 'period', 'kpis',
            'Period of the simple DSO: days (90) or months (3m)',
            'DSO 计算期间：天数（90）或月数（3m）',
            ('DSO计算期间', 'DSO期间')),
    Setting('CeiPeriod', '3m', 'period', 'kpis',
            'Period of the collection effectiveness index: days (90) or months (3m)',
            '回款有效性指数（CEI）计算期间：天数（90）或月数（3m）',
            ('CEI计算期间', 'CEI期间')),
    Setting('TrendMonths', 12, 'integer', 'kpis',
            'Month-ends shown in the aging trend',
            '账龄趋势显示的月末个数',
            ('趋势月数',)),
    Setting('WorklistDaysAhead', 7, 'integer', 'kpis',
            'The work list shows items overdue or due within this many days',
            '催收工作表列出逾期及在此天数内到期的发票',
            ('催收提前天数', '工作表提前天数')),
    Setting('WarningAmountBands', '10000,100000', 'list', 'kpis',
            'Amount bands of the warning table (base currency)',
            '预警表金额分段（本位币）',
            ('预警金额分段',)),
    Setting('WarningDueBands', '0,3,7,10,30', 'list', 'kpis',
            'Days-to-due bands of the warning table',
            '预警表距到期日天数分段',
            ('预警到期天数分段',)),
    Setting('Calendar', None, 'choice', 'stages',
            'Working days for payment deadlines and next actions: CN (with 调休 working weekends), GB, GB-ENG, '
            'DE, DE-BY, any country code, weekends; blank = every day counts (contract due dates are never moved). '
            'A new Chinese ledger starts with CN',
            '工作日历：CN（含调休）、GB、DE 等国家代码、weekends（仅周末）；空白 = 每天都算（合同到期日从不调整）；新建中文账簿默认 CN',
            ('日历', '工作日历', '节假日历', 'BusinessCalendar')),
    # ---- stages: one row per owner role of the Stages sheet (a pattern: a new ledger lists each role)
    Setting('Owner.<role>', None, 'text', 'stages',
            "The person acting for a role of the Stages sheet, e.g. Owner.finance = 张三; blank = the role's name",
            '催收阶段表中某角色的负责人，如 负责人.财务 = 张三；空则显示角色名称',
            ('负责人.<角色>',)),
    # ---- documents
    Setting('CompanyName', None, 'text', 'documents',
            "Your company's name as it signs letters (English)",
            '本公司英文名称（落款）',
            ('公司名称', '公司英文名称', '本公司名称')),
    Setting('CompanyNameZh', None, 'text', 'documents',
            "Your company's name in Chinese (zh letters); blank = CompanyName",
            '本公司中文名称（中文函件落款）',
            ('公司中文名称', '中文公司名称')),
    Setting('CompanyPhone', None, 'text', 'documents',
            'Phone number printed in letters',
            '函件中的联系电话',
            ('公司电话', '联系电话')),
    Setting('BankAccount', None, 'text', 'documents',
            'Bank account for payment, printed in letters',
            '收款银行账户（写入函件）',
            ('银行账户', '收款账户', '开户行及账号')),
    Setting('SenderName', None, 'text', 'documents',
            'Name in the From line of e-mails',
            '发件人名称',
            ('发件人', '发件人名称')),
    Setting('SenderEmail', None, 'e-mail', 'documents',
            'E-mail address reminders are sent from',
            '发件邮箱地址',
            ('发件邮箱', '发件人邮箱')),
    Setting('SmtpHost', None, 'text', 'documents',
            'Outgoing mail server, e.g. smtp.example.com',
            '发信服务器（SMTP）',
            ('SMTP服务器', '发信服务器', '邮件服务器')),
    Setting('SmtpPort', None, 'integer', 'documents',
            'SMTP port; blank = 587 (starttls), 465 (ssl), 25 (none)',
            'SMTP 端口；空白 = 按加密方式取默认',
            ('SMTP端口', '端口')),
    Setting('SmtpSecurity', 'starttls', 'choice', 'documents',
            'starttls, ssl or none (none only to this computer)',
            '加密方式：starttls、ssl 或 none',
            ('SMTP加密', '加密方式')),
    Setting('SmtpUser', None, 'text', 'documents',
            'SMTP login; the password is never kept in the workbook: set XL_AR_SMTP_PASSWORD or the system keyring (service xl-ar)',
            'SMTP 登录名；密码不得写入工作簿，请用环境变量 XL_AR_SMTP_PASSWORD 或系统钥匙串',
            ('SMTP用户', 'SMTP用户名', '邮箱账号')),
    Setting('SendRatePerMinute', 20, 'integer', 'documents',
            'At most this many e-mails per minute',
            '每分钟最多发送邮件数',
            ('每分钟发送数', '发送速率')),
    Setting('ReminderDaysAhead', 7, 'integer', 'documents',
            'Open items due within this many days are listed as due soon in a reminder',
            '提醒中一并列出若干天内到期的发票',
            ('提前提醒天数', '到期提醒天数')),
    Setting('PaymentDeadlineDays', 7, 'integer', 'documents',
            'Days from the as-of date to the payment deadline in a dunning letter',
            '催款函中的付款期限（自截止日起天数）',
            ('付款期限天数', '催款期限天数')),
)


def fold(text: Any) -> str:
    """A key as compared: NFKC, lower case, without spaces, ``_`` and ``-``."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return "".join(ch for ch in s if ch not in " _-\u3000")


BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
_LOOKUP: dict[str, str] = {fold(a): s.key for s in SETTINGS for a in (s.key, *s.aliases)}


def canonical_key(name: Any) -> str | None:
    """The canonical key of a name written in the Settings sheet's Key column, or None."""
    return _LOOKUP.get(fold(name))


def default(key: str) -> Any:
    """The default of a setting (as written in the sheet)."""
    return BY_KEY[key].default


def of_feature(*features: str) -> tuple[Setting, ...]:
    """The settings of these features, in registry order."""
    return tuple(s for s in SETTINGS if s.feature in features)


def defaults_table(*features: str) -> tuple[tuple[str, Any, str, str], ...]:
    """(key, default, English note, Chinese note) of these features' settings (patterns such as
    ``Owner.<role>`` left out: their owner lists the keys)."""
    return tuple((s.key, s.default, s.note_en, s.note_zh) for s in of_feature(*features) if "<" not in s.key)


def aliases_table(*features: str) -> dict[str, tuple[str, ...]]:
    """key -> its other accepted names, for these features' settings."""
    return {s.key: s.aliases for s in of_feature(*features) if s.aliases}


def markdown_table() -> str:
    """The README's settings table: key, Chinese names, default, what it does."""
    lines = ["| setting | 中文 | default | what it does |", "|---|---|---|---|"]
    for s in SETTINGS:
        d = "" if s.default is None else str(s.default)
        zh = ", ".join(s.aliases)
        lines.append(f"| `{s.key}` | {zh} | {d} | {s.note_en} ({s.feature}) |".replace("||", "| |"))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - prints the README table
    print(markdown_table())
