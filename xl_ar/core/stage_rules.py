"""The collection-stage rules: what a Stages sheet says, and the sources' defaults.

A :class:`StageRule` is one level of the policy (stage, day range, class and amount filters,
action, channel, owner role, follow-up interval, review); :data:`DEFAULT_STAGE_RULES` are the
defaults of docs/domain.md sections 3 and 4; :func:`stage_rules_from_table` reads a Stages
sheet (English or Chinese headers and values) with every problem an issue naming its cell.
Owner roles and the ``Owner.<role>`` settings that name their people live here too.
``xl_ar.core.stages`` applies the rules to the ledger.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from xl_ar.core import convert, registry
from xl_ar.core.issues import Issue
from xl_ar.core.money import to_minor
from xl_ar.core.schema import STAGES

#: Stage key -> (label, label_zh, default action, default action_zh).
STAGE_TEXTS: dict[str, tuple[str, str, str, str]] = {
    "pre_due": ("Reminder", "到期前提醒", "Friendly reminder before the due date", "到期前友好提醒"),
    "due": ("Due today", "到期日提醒", "Remind the customer the invoice is due today", "提醒客户今日到期付款"),
    "mild": ("Mild", "轻度", "Call, WeChat or e-mail the customer; find the reason; agree a payment date",
             "电话、微信或邮件联系客户，了解逾期原因，约定付款日期"),
    "moderate": ("Moderate", "中度", "Formal dunning letter with overdue amount, days and late fee; ask for a written payment plan",
                 "发正式催款函（逾期金额、天数、滞纳金），要求书面还款计划"),
    "severe": ("Severe", "严重", "Stop new business; visit; collection agency, lawyer's letter or lawsuit",
               "停止供货；上门催收；委托催收机构、发律师函或起诉"),
    "overdue": ("Overdue", "逾期", "Follow up the overdue invoice and agree a payment date", "跟进逾期发票并约定付款日期"),
    "promised": ("Promised", "已承诺付款", "Check the promised payment on the promise date", "在承诺日核对是否按承诺付款"),
    "disputed": ("Disputed", "争议中", "Resolve the dispute (not dunned meanwhile)", "解决争议（争议期间暂停催收）"),
    "written_off": ("Written off", "已核销坏账", "", ""),
}
#: Stage keys the run sets itself; a Stages sheet may not define them.
RESERVED_STAGES = ("promised", "disputed", "written_off")
#: The order stages are listed in (counts, reports).
STAGE_ORDER = ("pre_due", "due", "mild", "moderate", "severe", "overdue", "promised", "disputed", "written_off")

_STAGE_ALIASES = {
    "pre_due": ("pre-due", "predue", "reminder", "before due", "提醒", "到期前提醒", "到期前", "预提醒"),
    "due": ("due date", "due today", "到期", "到期日", "到期日提醒", "到期提醒"),
    "mild": ("轻度", "轻度逾期"), "moderate": ("中度", "中度逾期"), "severe": ("严重", "严重逾期", "重度"),
    "overdue": ("逾期",),
}

#: Channel key -> Chinese label (the Activities channels plus "legal").
CHANNEL_LABELS: dict[str, str] = {
    "phone": "电话", "email": "邮件", "sms": "短信", "wechat": "微信", "letter": "函件",
    "visit": "上门拜访", "legal": "法律途径", "statement": "对账单", "other": "其他",
}
_CHANNEL_ALIASES = {"e-mail": "email", "mail": "email", "电子邮件": "email", "邮箱": "email", "催款函": "letter",
                    "信函": "letter", "律师函": "legal", "诉讼": "legal", "上门": "visit", "拜访": "visit", "手机": "phone"}

#: Owner role -> Chinese name. Roles not listed are allowed and shown as typed.
OWNER_ROLES: dict[str, str] = {
    "sales director": "销售总监", "account manager": "客户经理", "sales": "销售/客服",
    "customer service": "客服", "finance": "财务", "collector": "催收专员", "management/legal": "管理层/法务",
}
#: Roles filled by the customer's own Owner (its salesperson / account manager) when known.
PERSONAL_ROLES = frozenset({"account manager", "sales"})
_ROLE_ALIASES = {"销售": "sales", "业务员": "sales", "management": "management/legal", "legal": "management/legal",
                 "管理层": "management/legal", "法务": "management/legal", "财务部": "finance"}

DEFAULT_CLASS = "B"
DISPUTE_FOLLOW_UP_DAYS = 7


@dataclass(frozen=True)
class StageRule:
    """One level of the collection policy.

    Attributes:
        stage: key, e.g. "pre_due", "due", "mild", "moderate", "severe" or a user's own name.
        min_days, max_days: the day range relative to the due date (negative = before it),
            both inclusive; ``max_days=None`` is open-ended.
        classes: customer classes the rule is for (empty = every class).
        min_amount_minor: the rule applies from this open amount (hundredths), None = any.
        action, action_zh: what to do, in English and Chinese.
        channel: "phone", "email", "sms", "wechat", "letter", "visit", "legal", ...
        owner_role: who acts (see :data:`OWNER_ROLES`).
        label, label_zh: the stage's name shown on the sheet.
        follow_up_days: act again every this many days while in the stage (>= 1).
        review: its messages wait in the Outbox until a person approves them (a lawyer's
            letter always does).
    """

    stage: str
    min_days: int
    max_days: int | None = None
    classes: tuple[str, ...] = ()
    min_amount_minor: int | None = None
    action: str = ""
    action_zh: str = ""
    channel: str = ""
    owner_role: str = "account manager"
    label: str = ""
    label_zh: str = ""
    follow_up_days: int = 7
    review: bool = False

    def __post_init__(self) -> None:
        if self.max_days is not None and self.max_days < self.min_days:
            raise ValueError(f"stage {self.stage}: day range {self.min_days}..{self.max_days} is empty")
        if self.follow_up_days < 1:
            raise ValueError(f"stage {self.stage}: follow-up days must be at least 1")


def _rule(stage: str, lo: int, hi: int | None, action: tuple[str, str] | None = None, **kw: Any) -> StageRule:
    label, label_zh, act, act_zh = STAGE_TEXTS[stage]
    act, act_zh = action or (act, act_zh)
    return StageRule(stage, lo, hi, action=act, action_zh=act_zh, label=label, label_zh=label_zh, **kw)


#: docs/domain.md sections 3-4: tiered pre-due reminders (documents 002/004), a due-date reminder,
#: then mild 1-30, moderate 31-90, severe over 90 days past due.
DEFAULT_STAGE_RULES: tuple[StageRule, ...] = (
    _rule("pre_due", -7, -1, ("Personal reminder from the sales director", "销售总监亲自提醒付款"), classes=("A",),
          channel="phone", owner_role="sales director", follow_up_days=7),
    _rule("pre_due", -3, -1, ("Friendly reminder letter with the latest statement", "发送友好提醒函并附最新对账单"),
          classes=("B",), channel="email", owner_role="account manager", follow_up_days=3),
    _rule("pre_due", -10, -1, ("Automatic SMS reminder, short and polite", "自动发送简短礼貌的提醒短信"), classes=("C",),
          channel="sms", owner_role="customer service", follow_up_days=10),
    _rule("due", 0, 0, channel="email", owner_role="account manager", follow_up_days=1),
    _rule("mild", 1, 30, channel="phone", owner_role="sales", follow_up_days=7),
    _rule("moderate", 31, 90, channel="letter", owner_role="finance", follow_up_days=14),
    _rule("severe", 91, None, channel="legal", owner_role="management/legal", follow_up_days=30, review=True),
)
FALLBACK_RULE = _rule("overdue", 1, None, channel="phone", owner_role="account manager", follow_up_days=7)

#: The Stages settings sheet is declared with the ledger tables (``schema.STAGES``); its
#: Chinese headers live with the others in ``xl_ar.book.headers``.
STAGE_TABLE_COLUMNS = STAGES


def stage_table_rows(rules: Sequence[StageRule], lang: str = "en") -> list[list[Any]]:
    """The Stages sheet's rows for a list of rules, in :data:`STAGE_TABLE_COLUMNS` order.

    Args:
        rules: the rules to write.
        lang: "en" writes keys and English actions; "zh" writes Chinese names and actions.

    Returns:
        One list of cell values per rule (blank cells are None; amounts in major units).
    """
    zh = lang == "zh"
    rows = []
    for r in rules:
        rows.append([
            (r.label_zh or r.stage) if zh else r.stage, r.min_days, r.max_days, ",".join(r.classes) or None,
            None if r.min_amount_minor is None else r.min_amount_minor / 100,
            r.action_zh if zh else r.action, CHANNEL_LABELS.get(r.channel, r.channel) if zh else r.channel,
            OWNER_ROLES.get(r.owner_role, r.owner_role) if zh else r.owner_role, r.follow_up_days,
            ("是" if zh else "yes") if r.review else None,
        ])
    return rows


#: What a new workbook's Stages sheet holds, per language.
DEFAULT_STAGES_ROWS: dict[str, list[list[Any]]] = {
    lang: stage_table_rows(DEFAULT_STAGE_RULES, lang) for lang in ("en", "zh")
}

_STAGE_LOOKUP = {registry.fold(a): k for k, al in _STAGE_ALIASES.items() for a in (k, *al)}
_STAGE_LOOKUP.update({registry.fold(STAGE_TEXTS[k][0]): k for k in STAGE_TEXTS})
_CHANNEL_LOOKUP = {registry.fold(a): k for k, zh in CHANNEL_LABELS.items() for a in (k, zh)}
_CHANNEL_LOOKUP.update({registry.fold(a): k for a, k in _CHANNEL_ALIASES.items()})
_ROLE_LOOKUP = {registry.fold(a): k for k, zh in OWNER_ROLES.items() for a in (k, zh)}
_ROLE_LOOKUP.update({registry.fold(a): k for a, k in _ROLE_ALIASES.items()})


def role_key(text: str) -> str:
    """The canonical owner role for a role typed in English or Chinese (unknown: as typed)."""
    return _ROLE_LOOKUP.get(registry.fold(text), str(text).strip())


def stage_rules_from_table(frame: pd.DataFrame, places: Mapping[str, str],
                           sheet: str = "Stages") -> tuple[list[StageRule], list[Issue]]:
    """Read the user's collection policy from the Stages sheet.

    A blank Action, Channel, OwnerRole or FollowUpDays of a known stage takes the default
    rule's (for pre-due reminders, the default for the same class). FollowUpDays of a custom
    stage defaults to the range's length (one action per stage), or 7 when open-ended.

    Args:
        frame: raw cell values under the field names of :data:`STAGE_TABLE_COLUMNS`
            (``stage``, ``from_day``, ...), plus ``row`` (the Excel row number) when known.
        places: field -> column letter(s) in the sheet, to name cells in issues.
        sheet: the sheet's name in the workbook (e.g. "催收阶段").

    Returns:
        (rules, issues). A row with an error is left out. A sheet with no rule at all gives
        :data:`DEFAULT_STAGE_RULES` and a warning; overdue days no rule covers give a warning.
    """
    issues: list[Issue] = []
    rows = frame["row"].to_numpy() if "row" in frame else np.arange(2, len(frame) + 2)
    rules: list[StageRule] = []
    for i in range(len(frame)):
        def cell(name: str) -> Any:
            return frame[name].iat[i] if name in frame else None

        def bad(name: str, message: str, severity: str = "error") -> None:
            issues.append(Issue(f"{sheet}!{places.get(name, '?')}{rows[i]}", message, severity))  # type: ignore[arg-type]

        if all(convert.is_blank(cell(f.name)) for f in STAGE_TABLE_COLUMNS.fields):
            continue
        errors_before = sum(x.severity == "error" for x in issues)
        raw_stage = convert.parse_text(cell("stage"))
        key = _STAGE_LOOKUP.get(registry.fold(raw_stage), raw_stage)
        if not raw_stage:
            bad("stage", "stage is blank")
        elif registry.fold(raw_stage) in RESERVED_STAGES or key in RESERVED_STAGES:
            bad("stage", f'stage "{raw_stage}" is set by the run itself (promises, disputes, write-offs)')
        days: dict[str, int | None] = {}
        for name, what in (("from_day", "from day"), ("to_day", "to day"), ("follow_up_days", "follow-up days")):
            try:
                days[name] = convert.parse_int(cell(name))
            except (ValueError, TypeError):
                bad(name, f'{what} "{cell(name)}" is not a whole number of days')
                days[name] = None
        lo, hi, follow = days["from_day"], days["to_day"], days["follow_up_days"]
        if convert.is_blank(cell("from_day")):
            bad("from_day", "from day is blank")
        if lo is not None and hi is not None and hi < lo:
            bad("to_day", f"to day {hi} is before from day {lo}")
        if follow is not None and follow < 1:
            bad("follow_up_days", f"follow-up days {follow} must be at least 1")
        min_amount = None
        try:
            amount = convert.parse_amount(cell("min_amount"))
            min_amount = None if amount is None else to_minor(amount, 2)
            if amount is not None and amount < 0:
                bad("min_amount", f'minimum amount "{cell("min_amount")}" must not be negative')
        except (ValueError, TypeError):
            bad("min_amount", f'minimum amount "{cell("min_amount")}" is not a number')
        raw_channel = convert.parse_text(cell("channel"))
        channel = _CHANNEL_LOOKUP.get(registry.fold(raw_channel), raw_channel)
        if raw_channel and channel not in CHANNEL_LABELS:
            bad("channel", f'channel "{raw_channel}" is not one of {", ".join(CHANNEL_LABELS)}', "warning")
        if sum(x.severity == "error" for x in issues) > errors_before:
            continue
        classes = tuple(sorted({c.upper() for c in re.split(r"[,，、/;；\s]+", convert.parse_text(cell("class"))) if c}))
        base = _default_for(key, classes)
        action, raw_role = convert.parse_text(cell("action")), convert.parse_text(cell("owner_role"))
        if base is not None and action in ("", base.action, base.action_zh):
            act, act_zh = base.action, base.action_zh
        else:
            act = act_zh = action  # the user's own words serve both languages
        if follow is None:
            follow = base.follow_up_days if base else (hi - lo + 1 if hi is not None else 7)
        label, label_zh = STAGE_TEXTS[key][:2] if key in STAGE_TEXTS else (raw_stage, raw_stage)
        try:
            review = convert.parse_bool(cell("review")) if not convert.is_blank(cell("review")) else bool(
                base and base.review)
        except (ValueError, TypeError):
            bad("review", f'review "{cell("review")}" is not yes/no (是/否)')
            continue
        rules.append(StageRule(key, lo, hi, classes, min_amount, act, act_zh, channel or (base.channel if base else ""),
                               role_key(raw_role) if raw_role else (base.owner_role if base else "account manager"),
                               label, label_zh, follow, review))
    if not rules and not any(x.severity == "error" for x in issues):
        issues.append(Issue(sheet, "the Stages sheet has no rules; the default stages are used", "warning"))
        return list(DEFAULT_STAGE_RULES), issues
    issues.extend(Issue(sheet, m, "warning") for m in _coverage_gaps(rules))
    return rules, issues


def _default_for(key: str, classes: tuple[str, ...]) -> StageRule | None:
    same = [r for r in DEFAULT_STAGE_RULES if r.stage == key]
    for r in same:
        if r.classes == classes:
            return r
    return same[0] if same else None


def _coverage_gaps(rules: Sequence[StageRule]) -> list[str]:
    """Overdue day ranges (from day 1 on) that no rule without an amount threshold covers."""
    messages = []
    named = sorted({c for r in rules for c in r.classes})
    for klass in [*named, None]:  # None: a class no rule names
        spans = sorted((max(r.min_days, 1), r.max_days) for r in rules if r.min_amount_minor is None
                       and (not r.classes or klass in r.classes) and (r.max_days is None or r.max_days >= 1))
        day = 1
        for lo, hi in spans:
            if lo > day:
                break
            day = float("inf") if hi is None else max(day, hi + 1)
        if day != float("inf"):
            who = f"class {klass}" if klass else "customers of other classes"
            messages.append(f"no stage covers {who} from {int(day)} days past due; such items get the "
                            f'"{FALLBACK_RULE.label}" stage')
    return messages


#: Settings rows a new workbook lists (blank): the person for each role of the default stages.
#: (key, default, English note, Chinese note), like the other ``*_SETTING_DEFAULTS``.
OWNER_SETTING_DEFAULTS: tuple[tuple[str, None, str, str], ...] = tuple(
    (f"Owner.{role}", None,
     f'Person for the owner role "{role}" on the Stages sheet'
     + (" when the customer\'s Owner cell is blank" if role in PERSONAL_ROLES else "") + "; blank = the role\'s name",
     f"催收阶段表中「{OWNER_ROLES[role]}」角色的负责人姓名"
     + ("（客户表负责人为空时使用）" if role in PERSONAL_ROLES else "") + "；空则显示角色名称")
    for role in dict.fromkeys(r.owner_role for r in DEFAULT_STAGE_RULES)
)


def owners_from_settings(extra: Mapping[str, Any]) -> dict[str, str]:
    """Role -> person from Settings keys such as ``Owner.finance = 王会计`` or ``负责人.财务``.

    Args:
        extra: ``Settings.extra`` (keys the base settings do not know): key -> value, or key ->
            (value, place of the value cell) as the Settings sheet gives them.

    Returns:
        role key -> person name.
    """
    out = {}
    for key, value in extra.items():
        if isinstance(value, tuple):  # (raw value, "Settings!B30") from the sheet
            value = value[0] if value else None
        m = re.match(r"^\s*(owner|负责人)\s*[.:：/]\s*(.+)$", unicodedata.normalize("NFKC", str(key)), re.I)
        if m and not convert.is_blank(value):
            out[role_key(m.group(2))] = str(value).strip()
    return out
