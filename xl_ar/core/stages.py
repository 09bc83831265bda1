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
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd

from xl_ar.core.cadence import last_reminded
from xl_ar.core.calendar import NO_CALENDAR, BusinessCalendar
from xl_ar.core.keys import LedgerKeys
from xl_ar.core.plans import check_promises
from xl_ar.core.stage_rules import (  # noqa: F401 - the rules' names, re-exported for the rule's users
    CHANNEL_LABELS, DEFAULT_CLASS, DEFAULT_STAGE_RULES, DEFAULT_STAGES_ROWS, DISPUTE_FOLLOW_UP_DAYS, FALLBACK_RULE,
    OWNER_ROLES, OWNER_SETTING_DEFAULTS, PERSONAL_ROLES, RESERVED_STAGES, STAGE_ORDER, STAGE_TABLE_COLUMNS,
    STAGE_TEXTS, StageRule, owners_from_settings, role_key, stage_rules_from_table, stage_table_rows,
)
from xl_ar.core.writeoffs import WRITE_OFF_OUTCOMES  # noqa: F401 (the outcomes this module's stage means)

if TYPE_CHECKING:  # run.py will import this module; avoid a cycle at import time
    from xl_ar.core.ledger import Ledger
    from xl_ar.core.position import Position

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
                  default_class: str = DEFAULT_CLASS, *, calendar: BusinessCalendar = NO_CALENDAR,
                  keys: LedgerKeys | None = None) -> pd.DataFrame:
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
        keys: the run's :class:`~xl_ar.core.keys.LedgerKeys` of ``ledger`` (made when None).

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

    keys = keys or LedgerKeys(ledger)
    klass = invoice_classes(keys, default_class)
    person = keys.customer_column("owner")
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


def invoice_classes(keys: LedgerKeys, default_class: str = DEFAULT_CLASS) -> np.ndarray:
    """Each invoice's customer class as the rules read it (trimmed, upper case), ``default_class``
    for a customer without one or not on the Customers sheet."""
    klass = keys.customer_column("class", fold=lambda v: str(v).strip().upper())
    klass[klass == ""] = default_class.upper()
    return klass


def _isin(values: np.ndarray, choices) -> np.ndarray:
    """``np.isin`` for text: a hash look-up, much faster than numpy's sort on object arrays."""
    return pd.Series(values, dtype=object).isin(list(choices)).to_numpy()


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
