"""Collection stages (催收阶段): which stage each open invoice is in at the as-of date, what to
do next, how, by whom and when.

The vocabulary follows OCA credit-control: a *policy* is a list of :class:`StageRule` (the
levels), a *run* has an explicit as-of date, and each invoice gets one *line* of output.
docs/domain.md sections 3 and 4 give the default rules (:data:`DEFAULT_STAGE_RULES`).

A stage is a pure function of the ledger and the as-of date, never of an earlier run: there
is no state to carry from one refresh to the next, so refreshing daily or once a week gives
the same answer on the same day. Everything that looks like history (promises, write-offs)
is read from the collection log (Activities) every time.

Decisions (each one a place where the sources are silent):

* **Rule choice.** Among the rules whose day range, class and amount threshold match, the most
  specific wins: a rule with a class filter beats one without, then the higher amount
  threshold, then the row higher up in the table. Days are ``as_of - due_date`` (negative
  before the due date); amounts are the invoice's open amount at face value in hundredths of
  its currency (the core has no FX rates). A customer with no class is treated as class B
  ("ordinary" in docs/domain.md), so the tiered pre-due reminders reach everyone.
* **Next action.** Within a stage the action is repeated every ``follow_up_days`` counted from
  the day the stage began (``due_date + min_days``); the next action date is the first such
  day on or after the as-of date, unless the item enters another stage sooner, in which case
  that stage's start and action come next. A not-yet-due item with no stage yet shows the
  first reminder ahead of it.
* **Promises** (PromiseDate/PromiseAmount on Activities) are checked in ``plans.py``; a
  pending one holds the invoice (``promised``), a broken one escalates it one stage.
* **Gaps** in user rules: an overdue item no rule covers gets the ``overdue`` fallback stage
  (account manager, weekly), because every overdue item must have an owner and a next date.
* **Owner**: rules name a role. For ``account manager`` and ``sales`` the owner is the person
  in the customer's Owner column; otherwise (or when that cell is blank) the person the
  ``owners`` mapping gives for the role, else the role's name.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from xl_ar.core import convert
from xl_ar.core.cadence import last_reminded
from xl_ar.core.calendar import NO_CALENDAR, BusinessCalendar
from xl_ar.core.issues import Issue
from xl_ar.core.money import to_minor
from xl_ar.core.plans import check_promises
from xl_ar.core.schema import STAGES
from xl_ar.core.writeoffs import WRITE_OFF_OUTCOMES  # noqa: F401 (the outcomes this module's stage means)

if TYPE_CHECKING:  # run.py will import this module; avoid a cycle at import time
    from xl_ar.core.ledger import Ledger
    from xl_ar.core.position import Position

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


def _norm(text: Any) -> str:
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return "".join(ch for ch in s if ch not in " _-\u3000")


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

_STAGE_LOOKUP = {_norm(a): k for k, al in _STAGE_ALIASES.items() for a in (k, *al)}
_STAGE_LOOKUP.update({_norm(STAGE_TEXTS[k][0]): k for k in STAGE_TEXTS})
_CHANNEL_LOOKUP = {_norm(a): k for k, zh in CHANNEL_LABELS.items() for a in (k, zh)}
_CHANNEL_LOOKUP.update({_norm(a): k for a, k in _CHANNEL_ALIASES.items()})
_ROLE_LOOKUP = {_norm(a): k for k, zh in OWNER_ROLES.items() for a in (k, zh)}
_ROLE_LOOKUP.update({_norm(a): k for a, k in _ROLE_ALIASES.items()})


def role_key(text: str) -> str:
    """The canonical owner role for a role typed in English or Chinese (unknown: as typed)."""
    return _ROLE_LOOKUP.get(_norm(text), str(text).strip())


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
        key = _STAGE_LOOKUP.get(_norm(raw_stage), raw_stage)
        if not raw_stage:
            bad("stage", "stage is blank")
        elif _norm(raw_stage) in RESERVED_STAGES or key in RESERVED_STAGES:
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
        channel = _CHANNEL_LOOKUP.get(_norm(raw_channel), raw_channel)
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


class _Policy:
    """The rules as arrays, for matching whole columns of invoices at once."""

    def __init__(self, rules: Sequence[StageRule]):
        self.rules = (*rules, FALLBACK_RULE)
        self.n = len(rules)
        big = np.iinfo(np.int64).max // 4
        self.lo = np.array([r.min_days for r in self.rules], np.int64)
        self.hi = np.array([big if r.max_days is None else r.max_days for r in self.rules], np.int64)
        self.follow = np.array([r.follow_up_days for r in self.rules], np.int64)
        # Applied in this order, later overriding earlier: the most specific rule wins.
        self.order = sorted(range(self.n), key=lambda i: (bool(rules[i].classes), rules[i].min_amount_minor or -1, -i))
        # Open-ended ranges have no end to cross: only finite edges are days a stage can change.
        self.bounds = np.unique(np.r_[self.lo[: self.n], [r.max_days + 1 for r in rules if r.max_days is not None]]).astype(np.int64)

    def match(self, days: np.ndarray, amount: np.ndarray, klass: np.ndarray) -> np.ndarray:
        """Index of the rule each item falls under by its days late alone (-1 = none)."""
        idx = np.full(len(days), -1, np.int64)
        for i in self.order:
            r = self.rules[i]
            m = (days >= r.min_days) & (days <= self.hi[i])
            if r.classes:
                m &= _isin(klass, r.classes)
            if r.min_amount_minor is not None:
                m &= amount >= r.min_amount_minor
            idx[m] = i
        return idx

    def effective(self, days, amount, klass, broken) -> tuple[np.ndarray, np.ndarray]:
        """(rule by days, rule after escalation and fallback) per item."""
        base = self.match(days, amount, klass)
        eff = base.copy()
        # A broken promise moves an overdue item one stage on: to the rule that applies the
        # day after its current range ends (mild -> moderate -> severe; severe stays).
        esc = broken & (days >= 1) & (base >= 0)
        for i in np.unique(base[esc]):
            if self.rules[i].max_days is None:
                continue
            m = esc & (base == i)
            target = self.match(np.full(int(m.sum()), self.hi[i] + 1), amount[m], klass[m])
            eff[m] = np.where(target >= 0, target, i)
        eff[(eff < 0) & (days >= 1)] = self.n  # a gap in the rules: the fallback stage
        return base, eff


def stage_for(days_late: int, amount_minor: int | None = None, klass: str | None = None,
              rules: Sequence[StageRule] = DEFAULT_STAGE_RULES) -> StageRule | None:
    """The rule a single item falls under by its days late (the ``AR_STAGE`` worksheet function).

    Args:
        days_late: days past the due date (negative = days before it).
        amount_minor: the open amount in hundredths; None = unknown, so rules with an amount
            threshold do not apply.
        klass: the customer's class; None or blank = :data:`DEFAULT_CLASS`.
        rules: the policy.

    Returns:
        The matching rule (the fallback stage for an overdue item no rule covers), or None
        when no stage applies (e.g. long before the due date).
    """
    policy = _Policy(rules)
    amount = np.array([-np.inf if amount_minor is None else float(amount_minor)])
    k = np.array([(klass or DEFAULT_CLASS).strip().upper()], dtype=object)
    _, eff = policy.effective(np.array([int(days_late)]), amount, k, np.zeros(1, bool))
    return None if eff[0] < 0 else policy.rules[eff[0]]


def assign_stages(ledger: "Ledger", result: "Position", as_of: dt.date,
                  rules: Sequence[StageRule] = DEFAULT_STAGE_RULES, owners: Mapping[str, str] | None = None,
                  default_class: str = DEFAULT_CLASS, *, calendar: BusinessCalendar = NO_CALENDAR) -> pd.DataFrame:
    """The collection stage of every invoice at the as-of date.

    Precedence: not existing, paid or a credit note -> blank; written off (in part or whole,
    see ``xl_ar.core.writeoffs``) -> ``written_off`` (the amount written off is bad debt, no
    further action); disputed -> ``disputed`` (only "resolve the dispute", by the account
    manager, weekly from the due date; it stays in the aging); a promise still running ->
    ``promised`` (next action on the promise date); otherwise the rule for its days late,
    one stage further when its promise was broken.

    Promises (and instalments, which are promises) are checked by
    :func:`xl_ar.core.plans.check_promises`: pending until the promise date inclusive, then
    kept or broken; a broken one moves an overdue item one stage on (mild -> moderate ->
    severe; severe stays) until a later promise is logged after it broke or a later promise
    is kept. The next action date of an escalated item counts from the day after the break.

    Args:
        ledger: the validated ledger.
        result: the refresh run at the same as-of date (open amounts, allocation).
        as_of: the as-of date.
        rules: the policy (default :data:`DEFAULT_STAGE_RULES`).
        owners: role -> person (e.g. {"finance": "王会计"}); roles in English or Chinese.
        default_class: class used for customers with none.
        calendar: next action dates that fall on a non-working day move to the next working
            day (the due dates themselves never move).

    Returns:
        One row per invoice row, in ledger order: ``stage``, ``stage_label``,
        ``stage_label_zh``, ``next_action``, ``next_action_zh``, ``channel``, ``owner_role``,
        ``owner``, ``owner_zh``, ``next_action_date`` (datetime64[s]), ``promise_state``,
        ``promise_date``, ``broken_promises``, ``written_off``, ``bad_debt_minor``; the
        cadence: ``step`` (the action in progress within the stage, 0 = its first; -1 = none),
        ``step_date`` (the day that action falls due, moved to a working day),
        ``step_sent`` (a message for it was logged), ``last_reminded`` (see :func:`last_reminded`).
    """
    inv = ledger.invoices
    n = len(inv)
    asof = np.datetime64(as_of, "D")
    if np.datetime64(result.as_of, "D") != asof:
        raise ValueError(f"the run is as of {result.as_of}, not {as_of}: stage the same day's run")
    exists = result.invoices["exists"].to_numpy(dtype=bool)
    open_ = result.invoices["open_minor"].to_numpy(dtype=np.int64)
    exp = result.invoices["exp"].to_numpy(dtype=np.int64)
    amt = inv["amount_minor"].to_numpy(dtype=np.int64)
    due = inv["due_date"].to_numpy(dtype="datetime64[D]")
    active = exists & (amt > 0) & (open_ > 0) & ~np.isnat(due)
    days = np.where(np.isnat(due), 0, (asof - np.where(np.isnat(due), asof, due)).astype(np.int64))

    klass = _customer_column(ledger, "class", fold=True)
    klass[klass == ""] = default_class.upper()
    person = _customer_column(ledger, "owner")
    amount = open_ * np.power(10.0, 2 - exp)

    promises = check_promises(ledger, result, as_of).invoices
    state = promises["promise_state"].to_numpy(dtype=object)
    p_date = promises["promise_date"].to_numpy(dtype="datetime64[D]")
    broken_from = np.where(state == "broken", p_date, np.datetime64("NaT"))
    # A write-off closes (part of) the invoice: the stage says so while anything was written off.
    wo = result.invoices["written_off_minor"].to_numpy(dtype=np.int64) if "written_off_minor" in result.invoices \
        else np.zeros(n, np.int64)
    written = exists & (amt > 0) & (wo > 0)
    disputed = inv["disputed"].to_numpy(dtype=bool) & active & ~written
    promised = (state == "promised") & active & ~written & ~disputed
    dun = active & ~written & ~disputed & ~promised

    policy = _Policy(rules)
    blank = len(policy.rules)  # index of "no rule": an empty row of texts
    stage_idx = np.full(n, blank, np.int64)
    act_idx = np.full(n, blank, np.int64)
    next_rel = np.full(n, np.iinfo(np.int64).max, np.int64)  # days from the due date
    pos = np.flatnonzero(dun)
    last_sent = last_reminded(ledger, asof)
    step = np.full(n, -1, np.int64)
    step_rel = np.zeros(n, np.int64)
    step_done = np.zeros(n, bool)
    if len(pos):
        d, a, k = days[pos], amount[pos], klass[pos]
        br = state[pos] == "broken"
        base, eff = policy.effective(d, a, k, br)
        has = eff >= 0
        # The stage began at its first day; an escalated one when the promise broke.
        start = np.where(base >= 0, policy.lo[np.maximum(base, 0)], 1)
        esc = has & (eff != base)
        broke_rel = (broken_from[pos] - due[pos]).astype(np.int64) + 1
        start = np.where(esc, np.maximum(start, np.where(np.isnat(broken_from[pos]), start, broke_rel)), start)
        f = policy.follow[np.maximum(eff, 0)]
        cadence = start + -(-(d - start) // f) * f
        cadence = np.where(has, np.maximum(cadence, start), np.iinfo(np.int64).max)
        # The step in progress (0 = the stage's first action) and whether a message for it
        # already went out: one logged on or after the step began. A step done today moves
        # the next action on to the next step.
        n_step = np.where(has & (d >= start), (d - start) // f, -1)
        cur = start + np.maximum(n_step, 0) * f
        sent_rel = np.where(np.isnat(last_sent[pos]), np.iinfo(np.int64).min,
                            (np.where(np.isnat(last_sent[pos]), asof, last_sent[pos]) - due[pos]).astype(np.int64))
        done = (n_step >= 0) & (sent_rel >= cur)
        cadence = np.where(done & (cadence == cur), cur + f, cadence)
        step[pos], step_rel[pos], step_done[pos] = n_step, np.where(n_step >= 0, cur, 0), done
        t_day, t_idx = _next_change(policy, d, a, k, br, eff)
        use_t = t_day <= cadence
        stage_idx[pos] = np.where(has, eff, blank)
        act_idx[pos] = np.where(use_t, t_idx, np.where(has, eff, blank))
        next_rel[pos] = np.minimum(cadence, t_day)

    texts = _texts(policy.rules)
    out_stage = texts["stage"][stage_idx]
    cols = {name: texts[name][stage_idx] for name in ("stage_label", "stage_label_zh")}
    for name in ("next_action", "next_action_zh", "channel", "owner_role"):
        cols[name] = texts[name][act_idx]
    for key, mask in (("written_off", written), ("disputed", disputed), ("promised", promised)):
        label, label_zh, action, action_zh = STAGE_TEXTS[key]
        out_stage[mask] = key
        cols["stage_label"][mask], cols["stage_label_zh"][mask] = label, label_zh
        cols["next_action"][mask], cols["next_action_zh"][mask] = action, action_zh
        cols["channel"][mask] = "" if key == "written_off" else "phone"
        cols["owner_role"][mask] = "" if key == "written_off" else "account manager"

    nad = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    has_next = next_rel != np.iinfo(np.int64).max
    nad[has_next] = due[has_next] + next_rel[has_next].astype("timedelta64[D]")
    nad[promised] = p_date[promised]
    # Disputes are reviewed weekly on the due date's weekday: a pure function of the date.
    dd = days[disputed]
    nad[disputed] = asof + (-dd % DISPUTE_FOLLOW_UP_DAYS).astype("timedelta64[D]")
    nad = calendar.roll_array(nad)
    step_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    has_step = step >= 0
    step_date[has_step] = due[has_step] + step_rel[has_step].astype("timedelta64[D]")
    step_date = calendar.roll_array(step_date)

    role = cols["owner_role"]
    owner, owner_zh = _owners(role, person, owners or {})
    return pd.DataFrame({
        "stage": out_stage, **cols, "owner": owner, "owner_zh": owner_zh,
        "next_action_date": nad.astype("datetime64[s]"),
        "promise_state": state, "promise_date": p_date.astype("datetime64[s]"),
        "broken_promises": promises["broken_promises"].to_numpy(dtype=np.int64),
        "written_off": written, "bad_debt_minor": wo,
        "step": step, "step_date": step_date.astype("datetime64[s]"), "step_sent": step_done,
        "last_reminded": last_sent.astype("datetime64[s]"),
    })


def _isin(values: np.ndarray, choices) -> np.ndarray:
    """``np.isin`` for text: a hash look-up, much faster than numpy's sort on object arrays."""
    return pd.Series(values, dtype=object).isin(list(choices)).to_numpy()


def _customer_column(ledger: "Ledger", name: str, fold: bool = False) -> np.ndarray:
    """A Customers column per invoice row ("" for a customer not on the sheet)."""
    cs = ledger.customers.drop_duplicates("customer_id")
    values = cs[name].to_numpy(dtype=object) if name in cs else np.full(len(cs), "", object)
    if fold:
        values = np.array([str(v).strip().upper() for v in values], dtype=object)
    at = pd.Index(cs["customer_id"].to_numpy(dtype=object)).get_indexer(ledger.invoices["customer_id"].to_numpy(dtype=object))
    return np.append(values, "")[at]  # -1 (not found) picks the appended blank


def _texts(rules: Sequence[StageRule]) -> dict[str, np.ndarray]:
    """Per-rule text columns, with one extra blank entry for "no rule"."""
    rows = [(r.stage, r.label or r.stage, r.label_zh or r.label or r.stage, r.action, r.action_zh or r.action,
             r.channel, r.owner_role or "account manager") for r in rules]
    names = ("stage", "stage_label", "stage_label_zh", "next_action", "next_action_zh", "channel", "owner_role")
    return {name: np.array([*(row[j] for row in rows), ""], dtype=object) for j, name in enumerate(names)}


def _next_change(policy: _Policy, d, a, k, broken, eff) -> tuple[np.ndarray, np.ndarray]:
    """The first day (relative to due) after ``d`` on which an item's stage changes, and to what."""
    t_day = np.full(len(d), np.iinfo(np.int64).max, np.int64)
    t_idx = np.full(len(d), -1, np.int64)
    todo = np.ones(len(d), bool)
    for b in policy.bounds:  # a handful of rule edges; the items shrink as each finds its change
        m = todo & (d < b)
        if not m.any():
            continue
        _, e = policy.effective(np.full(int(m.sum()), b), a[m], k[m], broken[m])
        changed = (e != eff[m]) & (e >= 0)
        idx = np.flatnonzero(m)[changed]
        t_day[idx], t_idx[idx] = b, e[changed]
        todo[idx] = False
    return t_day, t_idx


def _owners(role: np.ndarray, person: np.ndarray, owners: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
    people = {role_key(r): p for r, p in owners.items() if str(p).strip()}
    uniq = pd.unique(role)
    en = {r: people.get(r, r) for r in uniq}
    zh = {r: people.get(r, OWNER_ROLES.get(r, r)) for r in uniq}
    own = pd.Series(role).map(en).to_numpy(dtype=object)
    own_zh = pd.Series(role).map(zh).to_numpy(dtype=object)
    mine = _isin(role, PERSONAL_ROLES) & (person != "")
    own[mine] = person[mine]
    own_zh[mine] = person[mine]
    return own, own_zh


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


def per_stage_counts(stages: pd.DataFrame) -> dict[str, int]:
    """Number of invoices in each stage (blank stages left out), in :data:`STAGE_ORDER`.

    Args:
        stages: the frame :func:`assign_stages` returns.

    Returns:
        stage key -> count; user-defined stages follow the built-in ones alphabetically.
    """
    counts = stages.loc[stages["stage"] != "", "stage"].value_counts()
    keys = [k for k in STAGE_ORDER if k in counts.index] + sorted(k for k in counts.index if k not in STAGE_ORDER)
    return {k: int(counts[k]) for k in keys}
