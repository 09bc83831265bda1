"""Late fees: every policy to the cent, by hand, and the invariants every policy keeps.

Conventions under test (see ``xl_ar/core/fees.py``): an item accrues for the days
``due + grace + 1 .. as_of``; the balance of day d is the principal less payments dated before d
(interest runs up to and including the day of payment); one half-up rounding per item; the cap
limits the charge, statutory compensation is added after it.
"""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tables import d, parse_table
from xl_ar.core.fees import LATE_FEE_POLICIES, FeeTerms, late_fee, late_fees, policy_for
from xl_ar.core.money import CURRENCY_EXPONENTS, round_half_up, to_major, to_minor
from xl_ar.core.rates import RateTable


def items(text: str) -> pd.DataFrame:
    """| Amount | DueDate | Currency |  (Currency optional, default CNY; blank DueDate = none)"""
    header, rows = parse_table(text)
    col = {h: i for i, h in enumerate(header)}
    cur = [r[col["Currency"]] if "Currency" in col else "CNY" for r in rows]
    exp = [CURRENCY_EXPONENTS[c] for c in cur]
    return pd.DataFrame({
        "principal_minor": np.array([to_minor(r[col["Amount"]], e) for r, e in zip(rows, exp)], dtype=np.int64),
        "due_date": pd.to_datetime([r[col["DueDate"]] or None for r in rows]),
        "currency": cur,
        "exp": np.array(exp, dtype=np.int64),
    })


def payments(text: str, its: pd.DataFrame) -> pd.DataFrame:
    """| Item | Date | Amount |  (Item = position in the items; Amount in that item's currency)"""
    header, rows = parse_table(text)
    col = {h: i for i, h in enumerate(header)}
    pos = [int(r[col["Item"]]) for r in rows]
    return pd.DataFrame({
        "item": np.array(pos, dtype=np.int64),
        "date": pd.to_datetime([r[col["Date"]] for r in rows]),
        "amount_minor": np.array([to_minor(r[col["Amount"]], int(its["exp"][p])) for r, p in zip(rows, pos)],
                                 dtype=np.int64),
    })


def fees(its, as_of, pays=None, **terms) -> list[str]:
    res = late_fees(its, pays, d(as_of), FeeTerms(**terms))
    return [str(to_major(m, e)) for m, e in zip(res.fee_minor, its["exp"])]


ONE = items("""
| Amount    | DueDate    |
| 10000.00  | 2025-01-31 |
""")


# --- daily, grace, cap ------------------------------------------------------------------------

def test_daily_30_days_late():
    # 2025-02-01 .. 2025-03-02 = 30 days; 10,000.00 * 0.05% * 30 = 150.00
    assert fees(ONE, "2025-03-02") == ["150.00"]
    assert fees(ONE, "2025-03-02", policy="daily", rate=0.0005) == ["150.00"]


def test_one_day_late_accrues_one_day_and_the_due_date_none():
    assert fees(ONE, "2025-02-01") == ["5.00"]
    assert fees(ONE, "2025-01-31") == ["0.00"]


def test_partial_payment_lowers_interest_from_the_next_day():
    pays = payments("""
    | Item | Date       | Amount  |
    | 0    | 2025-02-10 | 4000.00 |
    """, ONE)
    # 2025-02-01 .. 02-10: 10 days on 10,000.00 = 50.00 (the payment day still bears interest)
    # 2025-02-11 .. 03-02: 20 days on  6,000.00 = 60.00
    assert fees(ONE, "2025-03-02", pays) == ["110.00"]


def test_fee_of_a_paid_invoice_is_the_fee_quoted_on_the_day_of_payment():
    pays = payments("""
    | Item | Date       | Amount   |
    | 0    | 2025-02-10 | 10000.00 |
    """, ONE)
    # paid in full on day 10 of lateness: 10 days on 10,000.00 = 50.00, whatever the as-of date
    assert fees(ONE, "2025-02-10") == ["50.00"]
    assert fees(ONE, "2025-02-10", pays) == ["50.00"]
    assert fees(ONE, "2025-12-31", pays) == ["50.00"]


def test_payments_after_the_as_of_date_are_ignored():
    pays = payments("""
    | Item | Date       | Amount   |
    | 0    | 2025-03-03 | 10000.00 |
    """, ONE)
    assert fees(ONE, "2025-03-02", pays) == ["150.00"]


def test_overpayment_leaves_no_negative_interest():
    pays = payments("""
    | Item | Date       | Amount   |
    | 0    | 2025-02-10 | 12000.00 |
    """, ONE)
    assert fees(ONE, "2025-03-02", pays) == ["50.00"]


def test_grace_days():
    # grace 5: first late day 2025-02-06; 02-06 .. 03-02 = 25 days -> 125.00
    assert fees(ONE, "2025-03-02", grace_days=5) == ["125.00"]
    assert fees(ONE, "2025-02-05", grace_days=5) == ["0.00"]
    assert fees(ONE, "2025-02-06", grace_days=5) == ["5.00"]


def test_cap_is_a_share_of_the_principal():
    assert fees(ONE, "2025-03-02", cap=0.01) == ["100.00"]    # 150.00 capped at 1% = 100.00
    assert fees(ONE, "2025-03-02", cap=0.05) == ["150.00"]    # cap not reached
    assert fees(ONE, "2025-03-02", cap=0.0) == ["0.00"]


def test_half_a_cent_is_rounded_once_per_item_half_up():
    its = items("""
    | Amount | DueDate    |
    | 5.00   | 2025-01-31 |
    | 5.00   | 2025-01-31 |
    """)
    pays = payments("""
    | Item | Date       | Amount |
    | 1    | 2025-02-01 | 1.00   |
    """, its)
    # item 0: 2 days * 500 fen * 0.05% = 0.25 + 0.25 = 0.5 fen -> 1 fen (per-day rounding gives 0)
    # item 1: 500 fen on 02-01 (0.25), 400 fen on 02-02..02-03 (0.2 * 2 = 0.4): 0.65 -> 1 fen
    #         (rounding each run of days separately would give 0 + 0)
    assert fees(its, "2025-02-02", pays) == ["0.01", "0.00"]
    assert fees(its, "2025-02-03", pays) == ["0.01", "0.01"]


# --- annual, fixed, percent ---------------------------------------------------------------------

def test_annual_rate_is_per_365_days():
    # default 12%: 10,000.00 * 12% * 30 / 365 = 98.6301... -> 98.63
    assert fees(ONE, "2025-03-02", policy="annual") == ["98.63"]
    assert fees(ONE, "2025-03-02", policy="annual", rate=0.0365) == ["30.00"]


def test_fixed_fee_is_charged_once_in_the_invoice_currency():
    its = items("""
    | Amount    | DueDate    | Currency |
    | 10000.00  | 2025-01-31 | CNY      |
    | 10000     | 2025-01-31 | JPY      |
    | 10000.00  | 2025-01-31 | CNY      |
    """)
    pays = payments("""
    | Item | Date       | Amount   |
    | 2    | 2025-01-31 | 10000.00 |
    """, its)
    assert fees(its, "2025-01-31", pays, policy="fixed") == ["0.00", "0", "0.00"]
    assert fees(its, "2025-02-01", pays, policy="fixed") == ["100.00", "100", "0.00"]
    assert fees(its, "2025-12-31", pays, policy="fixed", rate=25.5) == ["25.50", "26", "0.00"]
    assert fees(its, "2025-12-31", pays, policy="fixed", cap=0.001) == ["10.00", "10", "0.00"]


def test_percent_is_a_share_of_what_is_owed_at_the_start_of_the_first_late_day():
    its = items("""
    | Amount   | DueDate    |
    | 10000.00 | 2025-01-31 |
    | 10000.00 | 2025-01-31 |
    """)
    pays = payments("""
    | Item | Date       | Amount  |
    | 0    | 2025-01-31 | 4000.00 |
    | 1    | 2025-02-01 | 4000.00 |
    """, its)
    # item 0: 4,000 paid on the due date -> 2% of 6,000 = 120.00
    # item 1: paid on the first late day, after lateness began -> 2% of 10,000 = 200.00
    assert fees(its, "2025-03-02", pays, policy="percent") == ["120.00", "200.00"]
    assert fees(its, "2025-03-02", pays, policy="percent", rate=0.05, cap=0.04) == ["300.00", "400.00"]


# --- statutory presets ----------------------------------------------------------------------------

def test_cn_sme_is_five_ten_thousandths_a_day_and_ignores_rate():
    assert fees(ONE, "2025-03-02", policy="cn-sme", rate=0.001) == ["150.00"]


def test_jp_subcontract_is_14_6_percent_a_year():
    its = items("""
    | Amount  | DueDate    | Currency |
    | 1000000 | 2025-01-31 | JPY      |
    """)
    # 14.6% / 365 = 0.04% a day; 1,000,000 * 0.04% * 30 = 12,000 yen
    assert fees(its, "2025-03-02", policy="jp-subcontract", rate=0.5) == ["12000"]


UK = items("""
| Amount   | DueDate    | Currency |
| 5000.00  | 2024-01-31 | GBP      |
| 999.99   | 2024-01-31 | GBP      |
| 1000.00  | 2024-01-31 | GBP      |
| 10000.00 | 2024-01-31 | GBP      |
| 5000.00  | 2024-01-31 | CNY      |
""")


def test_uk_late_payment_interest_and_compensation():
    out = late_fees(UK, None, d("2024-03-01"), FeeTerms("uk-late-payment"))
    # late from 2024-02-01: Bank Rate on 31 Dec 2023 = 5.25% + 8% = 13.25% a year, 30 days.
    # 5,000.00 * 13.25% * 30 / 365 = 54.452... -> 54.45, plus GBP 70 compensation = 124.45
    # 999.99: 10.89 + 40;  1,000.00: 10.89 + 70;  10,000.00: 108.90 + 100
    # the CNY item: interest only, with a note on the compensation
    assert [str(to_major(m, 2)) for m in out.fee_minor] == ["124.45", "50.89", "80.89", "208.90", "54.45"]
    assert out.notes == [(4, "compensation GBP 40/70/100 (Late Payment Act s.5A) not added: "
                             "invoice currency is CNY, not GBP")]


def test_uk_rate_is_fixed_for_the_debts_life():
    its = items("""
    | Amount   | DueDate    | Currency |
    | 10000.00 | 2024-07-04 | GBP      |
    """)
    # late from 2024-07-05: Bank Rate on 30 June 2024 = 5.25% (the cut to 5% on 1 Aug does not
    # apply). 2024-07-05 .. 12-31 = 180 days: 10,000 * 13.25% * 180 / 365 = 653.42 + GBP 100
    assert fees(its, "2024-12-31", policy="uk-late-payment") == ["753.42"]


def test_cap_limits_interest_not_statutory_compensation():
    # interest 54.45 capped at 0.1% of 5,000.00 = 5.00; GBP 70 added after the cap
    assert fees(UK.iloc[[0]], "2024-03-01", policy="uk-late-payment", cap=0.001) == ["75.00"]


EUR = items("""
| Amount   | DueDate    | Currency |
| 10000.00 | 2024-06-15 | EUR      |
""")


def test_eu_late_payment_across_a_half_year_change():
    # 2024-06-16 .. 06-30: 15 days at MRO on 1 Jan 2024 (4.50) + 8 = 12.50%
    # 2024-07-01 .. 07-10: 10 days at MRO on 1 Jul 2024 (4.25) + 8 = 12.25%
    # 10,000 * (15 * 12.50% + 10 * 12.25%) / 365 = 31,000 / 365 = 84.93, plus EUR 40
    assert fees(EUR, "2024-07-10", policy="eu-late-payment") == ["124.93"]


def test_de_bgb_288_across_a_half_year_change():
    # Basiszinssatz 3.62 (H1 2024) and 3.37 (H2 2024), + 9 points: 12.62% and 12.37%
    # 10,000 * (15 * 12.62% + 10 * 12.37%) / 365 = 31,300 / 365 = 85.75, plus EUR 40
    assert fees(EUR, "2024-07-10", policy="de-bgb-288") == ["125.75"]


def test_eur_compensation_only_in_euro():
    its = items("""
    | Amount   | DueDate    | Currency |
    | 10000.00 | 2024-06-15 | USD      |
    """)
    out = late_fees(its, None, d("2024-07-10"), FeeTerms("de-bgb-288"))
    assert out.fee_minor.tolist() == [8575]
    assert out.notes == [(0, "compensation EUR 40 (§ 288(5) BGB) not added: invoice currency is USD, not EUR")]


def test_user_rates_override_the_packaged_ones():
    user = pd.DataFrame({"series": ["ecb-mro"], "effective_from": pd.to_datetime(["2024-06-12"]),
                         "rate_percent": [5.00]})
    rates = RateTable.default().with_overrides(user)
    # H2 2024 now at 5.00 + 8 = 13%: 10,000 * (15 * 12.50% + 10 * 13%) / 365 = 31,750 / 365 = 86.99
    out = late_fees(EUR, None, d("2024-07-10"), FeeTerms("eu-late-payment"), rates)
    assert out.fee_minor.tolist() == [8699 + 4000]


def test_rates_past_the_last_date_checked_are_flagged():
    out = late_fees(EUR, None, d("2026-09-30"), FeeTerms("eu-late-payment"))
    assert out.notes == [(0, "ecb-mro rate after 2026-02-05 (last date checked) taken as unchanged; "
                             "add newer rates to the Rates sheet")]
    user = pd.DataFrame({"series": ["ecb-mro"], "effective_from": pd.to_datetime(["2026-07-01"]),
                         "rate_percent": [2.15]})
    out2 = late_fees(EUR, None, d("2026-09-30"), FeeTerms("eu-late-payment"),
                     RateTable.default().with_overrides(user))
    assert out2.notes == [] and out2.fee_minor.tolist() == out.fee_minor.tolist()


def test_missing_reference_rate_is_a_clear_error():
    old = items("""
    | Amount | DueDate    | Currency |
    | 100.00 | 2008-01-31 | EUR      |
    """)
    with pytest.raises(ValueError, match="ecb-mro"):
        late_fees(old, None, d("2008-03-01"), FeeTerms("eu-late-payment"))


# --- every policy ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", list(LATE_FEE_POLICIES))
def test_credit_notes_and_items_without_due_date_get_no_fee(key):
    its = items("""
    | Amount   | DueDate    | Currency |
    | -3000.00 | 2024-01-31 | GBP      |
    | 0.00     | 2024-01-31 | EUR      |
    | 5000.00  |            | EUR      |
    """)
    out = late_fees(its, None, d("2025-03-02"), FeeTerms(key))
    assert out.fee_minor.tolist() == [0, 0, 0] and out.notes == []


@pytest.mark.parametrize("key", list(LATE_FEE_POLICIES))
def test_registry_entries_describe_themselves(key):
    p = LATE_FEE_POLICIES[key]
    assert p.key == key and p.label and p.label_zh
    if p.statutory:
        assert "checked: 2026-11-24" in type(p).__doc__ and p.source
    else:
        assert p.default_rate is not None


def test_policy_keys_are_case_insensitive_and_unknown_ones_rejected():
    assert policy_for(" UK-Late-Payment ").key == "uk-late-payment"
    with pytest.raises(ValueError, match="unknown late-fee policy"):
        late_fees(ONE, None, d("2025-03-02"), FeeTerms("weekly"))


@pytest.mark.parametrize("terms", [FeeTerms(grace_days=-1), FeeTerms(grace_days=1.5), FeeTerms(rate=-0.1),
                                   FeeTerms(cap=float("nan"))])
def test_invalid_terms(terms):
    with pytest.raises(ValueError):
        late_fees(ONE, None, d("2025-03-02"), terms)


def test_scalar_helper_for_worksheet_functions():
    assert late_fee(10000, d("2025-01-31"), d("2025-03-02"), FeeTerms()) == Decimal("150.00")
    assert late_fee(1000000, d("2025-01-31"), d("2025-03-02"), FeeTerms("jp-subcontract"), "JPY") == Decimal("12000")
    assert late_fee(5000, d("2024-01-31"), d("2024-03-01"), FeeTerms("uk-late-payment"), "gbp") == Decimal("124.45")
    assert late_fee(10000, None, d("2025-03-02"), FeeTerms()) == Decimal("0.00")


def test_a_million_items_run_vectorised():
    rng = np.random.default_rng(7)
    n = 1_000_000
    due = np.datetime64("2023-01-01") + rng.integers(0, 900, n).astype("timedelta64[D]")
    its = pd.DataFrame({"principal_minor": rng.integers(-1000, 10_000_000, n), "due_date": due,
                        "currency": np.where(rng.random(n) < 0.5, "EUR", "CNY"), "exp": np.full(n, 2)})
    pi = rng.integers(0, n, n // 2)
    pays = pd.DataFrame({"item": pi, "date": due[pi] + rng.integers(-30, 300, len(pi)).astype("timedelta64[D]"),
                         "amount_minor": rng.integers(1, 5_000_000, len(pi))})
    for key in ("daily", "eu-late-payment"):
        out = late_fees(its, pays, d("2025-12-31"), FeeTerms(key, grace_days=3, cap=0.5))
        assert out.fee_minor.shape == (n,) and (out.fee_minor >= 0).all()


# --- invariants (hypothesis) ---------------------------------------------------------------------

CURRENCIES = ["CNY", "GBP", "EUR", "JPY"]
DAY0 = dt.date(2023, 1, 1)


@st.composite
def ledgers(draw):
    n = draw(st.integers(1, 4))
    cur = draw(st.lists(st.sampled_from(CURRENCIES), min_size=n, max_size=n))
    its = pd.DataFrame({
        "principal_minor": np.array(draw(st.lists(st.integers(-10**6, 10**9), min_size=n, max_size=n)), dtype=np.int64),
        "due_date": pd.to_datetime([DAY0 + dt.timedelta(days=k)
                                    for k in draw(st.lists(st.integers(0, 1000), min_size=n, max_size=n))]),
        "currency": cur,
        "exp": np.array([CURRENCY_EXPONENTS[c] for c in cur], dtype=np.int64),
    })
    m = draw(st.integers(0, 6))
    pays = pd.DataFrame({
        "item": np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64),
        "date": pd.to_datetime([DAY0 + dt.timedelta(days=k)
                                for k in draw(st.lists(st.integers(0, 1200), min_size=m, max_size=m))]),
        "amount_minor": np.array(draw(st.lists(st.integers(1, 10**9), min_size=m, max_size=m)), dtype=np.int64),
    })
    return its, pays


terms_st = st.builds(
    FeeTerms,
    policy=st.sampled_from(list(LATE_FEE_POLICIES)),
    rate=st.none() | st.floats(0, 2, allow_nan=False),
    grace_days=st.integers(0, 60),
    cap=st.none() | st.floats(0, 2, allow_nan=False),
)
as_of_st = st.integers(0, 1300).map(lambda k: DAY0 + dt.timedelta(days=k))
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compensation_bound(its: pd.DataFrame, key: str) -> np.ndarray:
    cur, scale = its["currency"].to_numpy(), 10 ** its["exp"].to_numpy()
    if key == "uk-late-payment":
        return np.where(cur == "GBP", 100 * scale, 0)
    if key in ("eu-late-payment", "de-bgb-288"):
        return np.where(cur == "EUR", 40 * scale, 0)
    return np.zeros(len(its), dtype=np.int64)


@PROPS
@given(ledgers(), terms_st, as_of_st, st.integers(0, 400))
def test_fee_never_decreases_as_the_as_of_date_moves_on(data, terms, as_of, later):
    its, pays = data
    a = late_fees(its, pays, as_of, terms).fee_minor
    b = late_fees(its, pays, as_of + dt.timedelta(days=later), terms).fee_minor
    assert (b >= a).all() and (a >= 0).all()


@PROPS
@given(ledgers(), terms_st, as_of_st, st.floats(0, 1, allow_nan=False))
def test_fee_within_the_cap_plus_statutory_compensation(data, terms, as_of, cap):
    its, pays = data
    terms = FeeTerms(terms.policy, terms.rate, terms.grace_days, cap)
    fee = late_fees(its, pays, as_of, terms).fee_minor
    limit = round_half_up(cap * its["principal_minor"].to_numpy().astype(float))
    assert (fee <= np.maximum(limit, 0) + compensation_bound(its, terms.policy)).all()


@PROPS
@given(ledgers(), terms_st, as_of_st, st.data())
def test_payments_never_increase_the_fee(data, terms, as_of, draw):
    its, pays = data
    keep = draw.draw(st.lists(st.booleans(), min_size=len(pays), max_size=len(pays)))
    fewer = pays[np.array(keep, dtype=bool)] if len(pays) else pays
    with_all = late_fees(its, pays, as_of, terms).fee_minor
    with_fewer = late_fees(its, fewer, as_of, terms).fee_minor
    without = late_fees(its, None, as_of, terms).fee_minor
    assert (with_all <= with_fewer).all() and (with_fewer <= without).all()


@PROPS
@given(ledgers(), terms_st, as_of_st, st.data())
def test_no_fee_when_paid_in_full_by_the_end_of_grace(data, terms, as_of, draw):
    its, _ = data
    its = its.assign(principal_minor=np.abs(its["principal_minor"].to_numpy()) + 1)
    # pay every item in full in one or two parts, dated on or before due + grace
    rows = []
    for i, (p, due) in enumerate(zip(its["principal_minor"], its["due_date"])):
        last = due + pd.Timedelta(days=terms.grace_days)
        early = draw.draw(st.integers(0, 90))
        part = draw.draw(st.integers(0, int(p)))
        rows += [(i, last - pd.Timedelta(days=early), part), (i, last, int(p) - part)]
    pays = pd.DataFrame(rows, columns=["item", "date", "amount_minor"])
    pays = pays[pays["amount_minor"] > 0]
    out = late_fees(its, pays, as_of, terms)
    assert (out.fee_minor == 0).all() and out.notes == []
