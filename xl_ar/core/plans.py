"""Payment plans: contract milestones and negotiated instalments (docs/domain.md section 2).

* **Milestones.** Terms such as ``30%@0,60%@acceptance+30,10%@365`` (or in Chinese,
  ``30%@0，60%@验收+30，10%@365``) split a contract amount into receivables: each term is a
  share of the total, due a number of days after the start date or after a named event
  (acceptance, delivery, warranty end) whose date the caller supplies. Amounts are whole
  minor units that add up exactly to the total: each share is rounded down and the units left
  over go to the shares with the largest remainders (earlier terms first on a tie), so no
  term is ever off by more than one minor unit.
* **Instalments.** An overdue debt rescheduled by agreement ("three instalments at 1% each"):
  equal principal parts (the odd units go to the first instalments) plus interest by one of
  :data:`INTEREST_METHODS`, the default charging the rate on the balance still owed before
  each instalment. :func:`plan_activities` writes the agreement into the collection log as
  one agreement row and one promise per instalment, which ``stages.assign_stages`` then checks
  like any other promise.
* **Promises.** :func:`check_promises` checks every promise to pay on the collection log
  (instalments included) against the money received: pending, kept or broken.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from xl_ar.core.convert import parse_date
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major, to_minor

if TYPE_CHECKING:  # run.py may import the stages, which import this module
    from xl_ar.core.ledger import Ledger
    from xl_ar.core.position import Position


class TermsError(ValueError):
    """Payment terms that cannot be scheduled; the message names the term at fault."""


#: Named events a term may count from, with the words accepted for each (English, Chinese).
#: "start" is the start date itself (signing / order), i.e. the same as a plain day count.
EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "start": ("order", "signing", "contract", "签约", "下单", "订单", "合同签订", "预付"),
    "delivery": ("shipment", "ship", "交付", "发货", "交货", "到货"),
    "acceptance": ("accept", "验收", "验收合格", "终验", "初验"),
    "warranty": ("warranty end", "质保", "质保期满", "质保到期", "保修期满"),
}
EVENT_LABELS_ZH = {"start": "签约", "delivery": "交付", "acceptance": "验收", "warranty": "质保期满"}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lower().replace("_", " ")


_EVENT_LOOKUP = {_fold(a): k for k, al in EVENT_ALIASES.items() for a in (k, *al)}


def event_key(name: str) -> str:
    """The canonical event for a name in English or Chinese; an unknown name is kept (folded)."""
    f = _fold(name)
    return _EVENT_LOOKUP.get(f, f)


@dataclass(frozen=True)
class Milestone:
    """One term of a milestone schedule.

    Attributes:
        share: percent of the total, e.g. ``Decimal("30")``.
        event: None for the start date, else the event key ("acceptance", ...).
        offset_days: days after the start date or the event (may be negative).
        text: the term as written, used as its label.
    """

    share: Decimal
    event: str | None
    offset_days: int
    text: str


class ScheduledAmount(NamedTuple):
    """One receivable of a milestone schedule (amount in minor units)."""

    date: dt.date
    amount_minor: int
    label: str


class Instalment(NamedTuple):
    """One instalment of a repayment plan (amounts in minor units)."""

    date: dt.date
    principal_minor: int
    interest_minor: int
    total_minor: int


_TERM = re.compile(r"^(?P<share>\d+(?:\.\d+)?)\s*%\s*@\s*(?P<when>.+)$")
_DAYS = r"(?P<sign>[+-])?\s*(?P<days>\d+)\s*(?:d|days?|天|日)?"
_WHEN_DAYS = re.compile(rf"^{_DAYS}$")
_WHEN_EVENT = re.compile(rf"^(?P<event>[^\d+\-][^+\-]*?)\s*(?:{_DAYS})?$")
_EXAMPLE = "e.g. 30%@0, 60%@acceptance+30, 10%@365"


def parse_terms(text: str) -> list[Milestone]:
    """Parse milestone payment terms.

    Each term is ``SHARE%@DAYS`` (days after the start date) or ``SHARE%@EVENT[+DAYS]``;
    terms are separated by commas, semicolons, 、 or new lines, full-width forms accepted
    (``30%@0，60%@验收+30，10%@365``). Events: see :data:`EVENT_ALIASES`; any other word is
    taken as an event of the contract's own whose date must be given when scheduling.

    Args:
        text: the terms.

    Returns:
        The milestones in the order written.

    Raises:
        TermsError: a term is malformed, a share is not positive, or the shares do not add
            up to exactly 100%.
    """
    norm = unicodedata.normalize("NFKC", str(text or ""))
    parts = [p.strip() for p in re.split(r"[,;、\n]", norm)]
    if not any(parts):
        raise TermsError(f"payment terms are blank ({_EXAMPLE})")
    out = []
    for k, part in enumerate((p for p in parts if p), start=1):
        m = _TERM.match(part)
        when = m and _WHEN_DAYS.match(m.group("when").strip()) or m and _WHEN_EVENT.match(m.group("when").strip())
        if not m or not when:
            raise TermsError(f'term {k} "{part}" is not SHARE%@DAYS or SHARE%@EVENT+DAYS ({_EXAMPLE})')
        share = Decimal(m.group("share"))
        if share <= 0:
            raise TermsError(f'term {k} "{part}": the share must be more than 0%')
        days = int(when.group("days") or 0) * (-1 if when.group("sign") == "-" else 1)
        event = event_key(when.group("event")) if "event" in when.re.groupindex else None
        out.append(Milestone(share, None if event == "start" else event, days, part.replace(" ", "")))
    total = sum(m.share for m in out)
    if total != 100:
        raise TermsError(f'payment terms "{norm.strip()}": the shares add up to {total.normalize():f}%, not 100%')
    return out


def _as_date(value: Any, what: str) -> dt.date:
    try:
        d = parse_date(value)
    except (ValueError, TypeError):
        d = None
    if d is None:
        raise TermsError(f'{what} "{value}" is not a date')
    return d


def split_by_shares(amount_minor: int, shares: Sequence[Decimal]) -> list[int]:
    """Split an amount in proportion to shares so the parts add up exactly (largest remainder).

    Args:
        amount_minor: the total in minor units (a negative total is split like its absolute value).
        shares: the weights (any positive numbers, e.g. percents).

    Returns:
        One whole amount per share, summing to ``amount_minor``; ties in the remainders go to
        the earlier share.
    """
    sign, total = (-1 if amount_minor < 0 else 1), abs(int(amount_minor))
    weight = sum(shares)
    exact = [Decimal(total) * s / weight for s in shares]
    floors = [int(x.to_integral_value(ROUND_FLOOR)) for x in exact]
    left = total - sum(floors)
    for i in sorted(range(len(shares)), key=lambda i: (-(exact[i] - floors[i]), i))[:left]:
        floors[i] += 1
    return [sign * f for f in floors]


def milestone_schedule(amount_minor: int, terms: str | Sequence[Milestone], start_date: dt.date,
                       events: Mapping[str, Any] | None = None) -> list[ScheduledAmount]:
    """The receivables a contract's terms give (the ``AR_SCHEDULE`` worksheet function).

    Args:
        amount_minor: the contract total in minor units.
        terms: terms text (see :func:`parse_terms`) or parsed milestones.
        start_date: the date day counts start from (signing / order).
        events: event name (English or Chinese) -> its date, for terms counted from an event.

    Returns:
        (date, amount_minor, label) per term, in the order written; the amounts add up
        exactly to ``amount_minor``.

    Raises:
        TermsError: bad terms, or a term counts from an event whose date is not given.
    """
    milestones = parse_terms(terms) if isinstance(terms, str) else list(terms)
    start = _as_date(start_date, "start date")
    known = {event_key(k): _as_date(v, f"date of {k}") for k, v in (events or {}).items() if v not in (None, "")}
    amounts = split_by_shares(amount_minor, [m.share for m in milestones])
    out = []
    for k, (m, amount) in enumerate(zip(milestones, amounts), start=1):
        if m.event is None:
            base = start
        elif m.event in known:
            base = known[m.event]
        else:
            zh = EVENT_LABELS_ZH.get(m.event)
            raise TermsError(f'term {k} "{m.text}" counts from {m.event}{f" ({zh})" if zh else ""}, whose date '
                             f'is not given; pass it, e.g. "{m.event}=2025-03-31"')
        out.append(ScheduledAmount(base + dt.timedelta(days=m.offset_days), amount, m.text))
    return out


def events_from_text(text: str) -> dict[str, dt.date]:
    """Event dates written in one cell: ``acceptance=2025-03-31; 质保=2026-03-31``.

    Args:
        text: ``name=date`` pairs separated by commas or semicolons (``:`` also accepted).

    Returns:
        event key -> date.

    Raises:
        TermsError: a pair is malformed or its date is not a date.
    """
    out = {}
    for part in re.split(r"[,;\n]", unicodedata.normalize("NFKC", str(text or ""))):
        if not part.strip():
            continue
        name, sep, value = part.partition("=") if "=" in part else part.partition(":")
        if not sep or not name.strip():
            raise TermsError(f'event date "{part.strip()}" is not NAME=DATE, e.g. acceptance=2025-03-31')
        out[event_key(name)] = _as_date(value.strip(), f"date of {name.strip()}")
    return out


def milestone_invoices(contract_no: str, customer_id: str, amount_minor: int, terms: str | Sequence[Milestone],
                       start_date: dt.date, events: Mapping[str, Any] | None = None, exp: int = 2,
                       terms_days: int = 0) -> list[dict[str, Any]]:
    """Invoices-sheet rows for a contract's milestones (``xl-ar plan ...``).

    Args:
        contract_no: the contract; invoice numbers are ``<contract_no>-1``, ``-2``, ...
        customer_id: the customer.
        amount_minor, terms, start_date, events: as for :func:`milestone_schedule`.
        exp: minor-unit exponent of the contract's currency.
        terms_days: days from a milestone's invoice to its due date (0: due on the milestone).

    Returns:
        One dict per milestone keyed by Invoices field names; amounts in major units (Decimal).
    """
    rows = []
    for k, s in enumerate(milestone_schedule(amount_minor, terms, start_date, events), start=1):
        rows.append({"invoice_no": f"{contract_no}-{k}", "customer_id": customer_id, "invoice_date": s.date,
                     "due_date": s.date + dt.timedelta(days=terms_days), "amount": to_major(s.amount_minor, exp),
                     "contract_no": contract_no, "description": s.label})
    return rows


def _interest_on_balance(balance_before: int, part: int, principal: int) -> int:
    """The rate on the balance still owed before the instalment: interest for the period."""
    return balance_before


def _interest_flat(balance_before: int, part: int, principal: int) -> int:
    """The rate on the original principal at every instalment (a "flat" fee, 每期手续费)."""
    return principal


def _interest_on_part(balance_before: int, part: int, principal: int) -> int:
    """The rate on the instalment's own principal part only."""
    return part


#: How an instalment's interest base is chosen; the rate is applied to the base and rounded
#: half-up to a whole minor unit.
INTEREST_METHODS: dict[str, Callable[[int, int, int], int]] = {
    "balance": _interest_on_balance, "flat": _interest_flat, "instalment": _interest_on_part,
}


def _decimal(value: Any, what: str) -> Decimal:
    try:
        if isinstance(value, str) and value.strip().endswith("%"):
            return Decimal(value.strip()[:-1]) / 100
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f'{what} "{value}" is not a number') from None


def instalment_plan(principal_minor: int, count: int, interval_days: int, first_date: dt.date,
                    rate: Any = "0.01", method: str = "balance", annual_rate: Any = None) -> list[Instalment]:
    """A repayment plan for an overdue debt.

    Example (docs/domain.md: "three instalments at 1% each"): 30,000.00 in 3 instalments 30 days
    apart at 1% on the balance gives principal 10,000.00 each and interest 300.00, 200.00,
    100.00.

    Args:
        principal_minor: the debt in minor units (> 0).
        count: number of instalments (>= 1).
        interval_days: days between instalments (>= 1).
        first_date: date of the first instalment.
        rate: interest rate per instalment (0.01 or "1%"); ignored when ``annual_rate`` is given.
        method: a key of :data:`INTEREST_METHODS`: "balance" (default), "flat" or "instalment".
        annual_rate: a yearly rate instead; per instalment it is ``annual_rate * interval_days / 365``.

    Returns:
        (date, principal_minor, interest_minor, total_minor) per instalment; the principal
        parts add up exactly to ``principal_minor``.

    Raises:
        ValueError: a bad count, interval, rate or method.
    """
    if method not in INTEREST_METHODS:
        raise ValueError(f'interest method "{method}" is unknown; use one of {", ".join(INTEREST_METHODS)}')
    if int(count) != count or count < 1:
        raise ValueError(f"the number of instalments must be a whole number of at least 1, not {count}")
    if int(interval_days) != interval_days or interval_days < 1:
        raise ValueError(f"the interval must be a whole number of days of at least 1, not {interval_days}")
    if principal_minor <= 0:
        raise ValueError("the amount to reschedule must be more than zero")
    r = (_decimal(annual_rate, "annual rate") * int(interval_days) / 365 if annual_rate is not None
         else _decimal(rate, "rate"))
    if r < 0:
        raise ValueError(f'the rate "{annual_rate if annual_rate is not None else rate}" must not be negative')
    base, odd = divmod(int(principal_minor), int(count))
    balance, out = int(principal_minor), []
    start = _as_date(first_date, "first instalment date")
    for k in range(int(count)):
        part = base + (1 if k < odd else 0)
        on = INTEREST_METHODS[method](balance, part, int(principal_minor))
        interest = int((Decimal(on) * r).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        out.append(Instalment(start + dt.timedelta(days=k * int(interval_days)), part, interest, part + interest))
        balance -= part
    return out


#: Outcomes that mark a repayment agreement on the collection log.
AGREEMENT_OUTCOMES = {"en": "agreement", "zh": "分期协议"}


def _fmt(minor: int, exp: int) -> str:
    return f"{to_major(minor, exp):,.{exp}f}"


def plan_activities(customer_id: str, invoice_no: str, plan: Sequence[Instalment], agreed_on: dt.date, by: str,
                    lang: str = "en", exp: int = 2, channel: str = "letter", note: str = "") -> list[dict[str, Any]]:
    """Collection-log rows recording an instalment agreement.

    The promise rows share the agreement's date, so ``assign_stages`` checks them together:
    instalment k is kept when the money received since the agreement covers instalments
    1..k, and the first one missed escalates the invoice.

    Args:
        customer_id: the customer.
        invoice_no: the invoice rescheduled, or "" for the customer's overdue invoices.
        plan: the instalments (:func:`instalment_plan`).
        agreed_on: the date of the agreement.
        by: who agreed it.
        lang: "en" or "zh", the language of the notes and the agreement's outcome.
        exp: minor-unit exponent of the currency.
        channel: the Activities channel of the rows (a written agreement: "letter").
        note: an extra remark for the agreement row.

    Returns:
        Dicts keyed by Activities field names: one agreement row (Outcome ``agreement`` /
        ``分期协议``), then one per instalment with ``promise_date`` and ``promise_amount``
        (the instalment's total, principal plus interest, in major units as Decimal).
    """
    zh = lang == "zh"
    principal = sum(i.principal_minor for i in plan)
    interest = sum(i.interest_minor for i in plan)
    n = len(plan)
    summary = (f"分期还款协议：共{n}期，本金 {_fmt(principal, exp)}，利息 {_fmt(interest, exp)}，"
               f"首期 {plan[0].date:%Y-%m-%d}" if zh else
               f"Instalment agreement: {n} instalments, principal {_fmt(principal, exp)}, "
               f"interest {_fmt(interest, exp)}, first on {plan[0].date:%Y-%m-%d}") if plan else ""
    common = {"date": agreed_on, "customer_id": customer_id, "invoice_no": invoice_no, "channel": channel, "by": by}
    rows = [{**common, "note": f"{summary}; {note}" if note else summary, "promise_date": None,
             "promise_amount": None, "outcome": AGREEMENT_OUTCOMES["zh" if zh else "en"]}]
    for k, i in enumerate(plan, start=1):
        text = (f"第{k}/{n}期：本金 {_fmt(i.principal_minor, exp)} + 利息 {_fmt(i.interest_minor, exp)}" if zh else
                f"Instalment {k}/{n}: principal {_fmt(i.principal_minor, exp)} + interest {_fmt(i.interest_minor, exp)}")
        rows.append({**common, "note": text, "promise_date": i.date, "promise_amount": to_major(i.total_minor, exp),
                     "outcome": ""})
    return rows


# -- Promises to pay: checked against the money received ------------------------------------

_KEPT, _PENDING, _BROKEN = 1, 2, 3
_STATE_NAMES = np.array(["", "kept", "promised", "broken"], dtype=object)


@dataclass(frozen=True)
class PromiseCheck:
    """Every promise on the collection log, checked at an as-of date.

    Attributes:
        invoices: one row per invoice row (ledger order): ``promise_state`` ("", "promised",
            "kept", "broken"), ``promise_date`` (the pending promise's date, the live broken
            one's, or the last kept one's), ``broken_promises`` (how many ever broke).
        promises: one row per promise on Activities: ``row`` (Excel row), ``customer_id``,
            ``invoice_no``, ``promise_date``, ``state``, ``promised_minor`` (owed by that date
            under the agreement, capped at what was open), ``received_minor``, ``invoices``
            (how many invoices it covers).
    """

    invoices: pd.DataFrame
    promises: pd.DataFrame


def check_promises(ledger: "Ledger", result: "Position", as_of: dt.date) -> PromiseCheck:
    """Check the promises to pay (PromiseDate, PromiseAmount) on the Activities sheet.

    Rules (docs/domain.md section 4: "a promise is checked on its date; a broken promise escalates"):

    * A promise exists from its log date (the row's Date, on or before the as-of date). A
      blank PromiseAmount means the whole open amount.
    * With an InvoiceNo it covers that invoice. Without one it covers the customer's
      undisputed invoices open on the log date in the log's currency, oldest due date first
      (the order receipts are applied in), as many as the promised amount reaches, the
      invoice it runs out on included (blank amount: all those due by the promise date).
    * Rows for the same invoice (or customer) logged on the same date are one agreement, e.g.
      an instalment plan: promise k is owed the running total of promises 1..k.
    * Until its date (inclusive) a promise is ``promised``. After it, it is ``kept`` when the
      money received from the log date to the promise date reaches what it owed (capped at
      what was open on the log date), else ``broken``. Money received: for an invoice, the
      receipts the allocation applied to it; for a customer, its receipts in that currency.
    * An invoice's state: ``broken`` while a broken promise stands (one stands until a
      promise is logged after its date, or a later promise is kept), else ``promised`` while
      one is pending, else ``kept``. Every broken promise is counted, standing or not.

    Args:
        ledger: the validated ledger.
        result: the refresh run at the same as-of date (its allocation).
        as_of: the as-of date.

    Returns:
        The :class:`PromiseCheck`.
    """
    inv, acts = ledger.invoices, ledger.activities
    n, asof = len(inv), np.datetime64(as_of, "D")
    state = np.zeros(n, np.int64)
    n_broken = np.zeros(n, np.int64)
    shown = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    checked: list[dict[str, Any]] = []
    groups: dict[tuple, list[int]] = defaultdict(list)
    if len(acts):
        a_date = acts["date"].to_numpy(dtype="datetime64[D]")
        p_date = acts["promise_date"].to_numpy(dtype="datetime64[D]")
        sel = np.flatnonzero(~np.isnat(a_date) & ~np.isnat(p_date) & (a_date <= asof))
        a_inv = acts["invoice_no"].to_numpy(dtype=object)
        first = pd.Series(np.arange(n), index=inv["invoice_no"].to_numpy(dtype=object))
        first = first[~first.index.duplicated()]
        pos_of = first[first.index.isin([x for x in a_inv[sel] if x])].to_dict()
        a_cust, a_ccy = acts["customer_id"].to_numpy(dtype=object), acts["currency"].to_numpy(dtype=object)
        for r in sel:  # promises are few; a loop over them is fine
            if not a_inv[r]:
                groups[("c", a_cust[r], a_ccy[r], a_date[r])].append(r)
            elif a_inv[r] in pos_of:
                groups[("i", pos_of[a_inv[r]], a_date[r])].append(r)

    records: dict[int, list[tuple[int, np.datetime64, np.datetime64]]] = defaultdict(list)
    if groups:
        money = _Money(ledger, result, {g[1] for g in groups if g[0] == "c"})
        amounts = acts["promise_amount"].to_numpy(dtype=np.float64)
        rows_excel = acts["row"].to_numpy() if "row" in acts else np.arange(2, len(acts) + 2)
    for key, rows in groups.items():
        act, by_invoice = key[-1], key[0] == "i"
        if by_invoice:
            targets, exp = np.array([key[1]]), int(inv["exp"].iat[key[1]])
        else:
            targets, exp = money.candidates(key[1], key[2], act), CURRENCY_EXPONENTS.get(str(key[2]), 2)
        opened = money.open_at(targets, act)
        covered = cum = 0
        for r in sorted(rows, key=lambda r: (p_date[r], r)):
            t = p_date[r]
            if not amounts[r] > 0:  # blank: everything open that falls due by the promise date
                mine = targets if by_invoice else targets[money.due[targets] <= t]
                need, covered = int(money.open_at(mine, act).sum()), max(covered, len(mine))
            else:
                cum += to_minor(float(amounts[r]), exp)
                reach = int(np.searchsorted(np.cumsum(opened), cum)) + 1
                need, covered = min(cum, int(opened.sum())), max(covered, min(reach, len(targets)))
            got = (money.received_invoice(targets[0], act, t) if by_invoice
                   else money.received_customer(key[1], key[2], act, t))
            s = _PENDING if asof <= t else (_KEPT if got >= need else _BROKEN)
            for p in targets[:covered]:
                records[int(p)].append((s, t, act))
            checked.append({"row": int(rows_excel[r]), "customer_id": a_cust[r], "invoice_no": a_inv[r],
                            "promise_date": t, "state": _STATE_NAMES[s], "promised_minor": need,
                            "received_minor": got, "invoices": int(covered)})

    for p, recs in records.items():
        broken = [x for x in recs if x[0] == _BROKEN]
        n_broken[p] = len(broken)
        standing = [b[1] for b in broken if not any(o[2] > b[1] or (o[0] == _KEPT and o[1] > b[1]) for o in recs)]
        pending = [x[1] for x in recs if x[0] == _PENDING]
        kept = [x[1] for x in recs if x[0] == _KEPT]
        if standing:
            state[p], shown[p] = _BROKEN, min(standing)  # the escalation runs from the first break
        elif pending:
            state[p], shown[p] = _PENDING, min(pending)
        elif kept:
            state[p], shown[p] = _KEPT, max(kept)
    per_invoice = pd.DataFrame({"promise_state": _STATE_NAMES[state], "promise_date": shown.astype("datetime64[s]"),
                                "broken_promises": n_broken})
    columns = ["row", "customer_id", "invoice_no", "promise_date", "state", "promised_minor", "received_minor", "invoices"]
    promises = pd.DataFrame(checked, columns=columns)
    promises["promise_date"] = promises["promise_date"].astype("datetime64[s]")
    return PromiseCheck(per_invoice, promises.sort_values("row", kind="stable").reset_index(drop=True))


class _Money:
    """What was open and received when, for the few invoices and customers promises name."""

    def __init__(self, ledger: "Ledger", result: "Position", customers: set):
        inv = ledger.invoices
        self.amt = inv["amount_minor"].to_numpy(dtype=np.int64)
        self.due = inv["due_date"].to_numpy(dtype="datetime64[D]")
        self.inv_date = inv["invoice_date"].to_numpy(dtype="datetime64[D]")
        self.disputed = inv["disputed"].to_numpy(dtype=bool)
        self.ccy = inv["currency"].to_numpy(dtype=object)
        app = result.allocation.applications.sort_values(["invoice", "date"], kind="stable")
        self.app_inv = app["invoice"].to_numpy(dtype=np.int64)
        self.app_date = app["date"].to_numpy(dtype="datetime64[D]")
        self.app_amt = app["amount_minor"].to_numpy(dtype=np.int64)
        self.app_rec = (app["payer_kind"] == "receipt").to_numpy()
        # Only customers with customer-level promises are indexed: the invoices may be many.
        cust = inv["customer_id"].to_numpy(dtype=object)
        mine = np.flatnonzero(pd.Series(cust, dtype=object).isin(list(customers)).to_numpy())
        self.by_customer = {c: mine[ix] for c, ix in pd.Series(mine).groupby(cust[mine]).indices.items()} if len(mine) else {}
        rec = ledger.receipts
        self.rec = rec[rec["customer_id"].isin(list(customers))]

    def _apps(self, p: int) -> slice:
        return slice(np.searchsorted(self.app_inv, p, "left"), np.searchsorted(self.app_inv, p, "right"))

    def open_at(self, targets: np.ndarray, day: np.datetime64) -> np.ndarray:
        """Open amount of each target at the start of ``day``."""
        out = []
        for p in targets:
            s = self._apps(int(p))
            out.append(self.amt[p] - int(self.app_amt[s][self.app_date[s] < day].sum()))
        return np.array(out, dtype=np.int64)

    def candidates(self, customer: str, currency: str, day: np.datetime64) -> np.ndarray:
        """The customer's undisputed invoices open on ``day``, oldest due date first."""
        pos = self.by_customer.get(customer, np.zeros(0, np.int64))
        pos = pos[(self.ccy[pos] == currency) & (self.amt[pos] > 0) & ~self.disputed[pos] & (self.inv_date[pos] <= day)]
        pos = pos[np.lexsort((pos, self.inv_date[pos], self.due[pos]))]
        return pos[self.open_at(pos, day) > 0]

    def received_invoice(self, p: int, start: np.datetime64, end: np.datetime64) -> int:
        s = self._apps(int(p))
        d = self.app_date[s]
        return int(self.app_amt[s][self.app_rec[s] & (d >= start) & (d <= end)].sum())

    def received_customer(self, customer: str, currency: str, start: np.datetime64, end: np.datetime64) -> int:
        r = self.rec
        d = r["receipt_date"].to_numpy(dtype="datetime64[D]")
        m = (r["customer_id"] == customer).to_numpy() & (r["currency"] == currency).to_numpy() & (d >= start) & (d <= end)
        return int(r["amount_minor"].to_numpy(dtype=np.int64)[m].sum())
