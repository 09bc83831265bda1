"""The basis a letter states for a late fee: every statutory preset has its citation."""

from __future__ import annotations

import datetime as dt

from xl_ar.core.feebasis import LETTER_SOURCES, fee_basis, interest_from
from xl_ar.core.fees import LATE_FEE_POLICIES, FeeTerms


def test_every_statutory_policy_has_a_letter_citation_in_both_languages():
    statutory = {k for k, p in LATE_FEE_POLICIES.items() if p.statutory}
    assert statutory == set(LETTER_SOURCES)
    assert all(zh and en for zh, en in LETTER_SOURCES.values())


def test_contract_terms_rest_on_the_contract_and_keep_their_rate():
    b = fee_basis(FeeTerms("annual", 0.08, 3, 0.1), dt.date(2025, 3, 31))
    assert (b.method, b.rate, b.statutory, b.source_zh, b.grace_days, b.cap) == ("annual", 0.08, False, "", 3, 0.1)


def test_uk_rate_is_fixed_by_the_half_year_interest_starts_in():
    # interest starting in February reads Bank Rate on 31 December 2024 (4.75%)
    b = fee_basis(FeeTerms("uk-late-payment", 0.5), dt.date(2025, 9, 30), start=dt.date(2025, 2, 15))
    assert b.reference == ("boe-base", 4.75, 8.0) and b.rate == 0.1275
    assert interest_from(dt.date(2025, 2, 14), 0) == dt.date(2025, 2, 15)
