"""File names from customer ids: safe characters, bounded length, never two customers in one file."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import example, given, settings, strategies as st

from xl_ar.documents.filenames import MAX_STEM_BYTES, safe_stem
from xl_ar.documents.reminders import safe_file

_WINDOWS_BAD = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def test_ordinary_ids_keep_their_names():
    assert safe_stem("C1", "customer") == "C1"
    assert safe_stem("上海华信-01", "customer") == "上海华信-01"
    assert safe_file("C1") == "C1"


def test_control_characters_and_separators_are_replaced_and_told_apart():
    bell = safe_stem("\x07C1", "customer")
    assert bell.startswith("C1-") and len(bell) == len("C1-") + 8
    assert safe_stem("A/B", "customer") != safe_stem("A:B", "customer")
    assert safe_stem("A/B", "customer").startswith("A_B-")
    assert safe_file("C1\x07") != safe_file("C1\x08") and safe_file("C1\x07").startswith("C1-")


def test_a_300_character_id_is_cut_to_the_byte_bound_and_stays_unique():
    a, b = "客" * 300, "客" * 299 + "户"
    sa, sb = safe_stem(a, "customer"), safe_stem(b, "customer")
    assert len(sa.encode()) <= MAX_STEM_BYTES and len(sb.encode()) <= MAX_STEM_BYTES
    assert sa != sb and sa.startswith("客" * 30)
    assert len(safe_file("x" * 300).encode()) <= 60


def test_windows_device_names_and_blank_ids():
    assert safe_stem("CON", "customer") == "_CON-" + safe_stem("CON", "customer")[-8:]
    assert safe_stem("nul.txt", "customer").startswith("_nul.txt-")
    assert safe_stem("", "customer") == "customer"
    assert safe_stem("\x07\x08", "customer").startswith("customer-")
    assert safe_stem(" . ", "customer").startswith("customer-")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=400), st.text(min_size=1, max_size=400))
def test_any_two_ids_give_safe_bounded_distinct_stems(a, b):
    sa, sb = safe_stem(a, "customer"), safe_stem(b, "customer")
    for s in (sa, sb):
        assert s and not _WINDOWS_BAD.search(s)
        assert len(s.encode("utf-8", "surrogatepass")) <= MAX_STEM_BYTES
        assert not s.endswith((" ", ".")) and s.split(".")[0].upper() not in ("CON", "NUL", "PRN", "AUX")
    if a != b:
        assert sa != sb


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=400), st.text(min_size=1, max_size=400))
@example("000000000000000000000000:²²²¹¹¹¹¹¹¹ກ\U00017000", "0")  # short but changed: the digest must fit too
def test_reminder_file_parts_are_word_characters_bounded_and_distinct(a, b):
    fa, fb = safe_file(a), safe_file(b)
    assert re.fullmatch(r"[\w.-]+", fa) and len(fa.encode("utf-8", "surrogatepass")) <= 60
    if a != b:
        assert fa != fb


def test_statement_file_stems_keep_the_period(tmp_path):
    from xl_ar.documents.statements import Statement, file_stem
    st_ = Statement("ST-x", "\x07" + "C" * 300, "", "", "", "", "", dt.date(2025, 1, 1), dt.date(2025, 3, 31),
                    "en", (30,), "due", ())
    stem = file_stem(st_)
    assert stem.startswith("ST-CCC") and stem.endswith("-20250101-20250331")
    assert len(stem.encode()) <= MAX_STEM_BYTES + 21
    (tmp_path / f"{stem}.xlsx").write_bytes(b"")  # the file system takes it


def test_names_of_one_folder_that_differ_only_in_case_are_told_apart():
    from xl_ar.documents.filenames import case_safe

    ids = ["C1", "c1", "C2", "C1", "Ab", "AB", "ab", "x/y"]
    stems = case_safe([safe_stem(i, "customer") for i in ids], ids)
    assert stems[2] == "C2" and stems[7] == safe_stem("x/y", "customer")  # alone: unchanged
    assert stems[0] == stems[3] != stems[1] and stems[0].startswith("C1-") and stems[1].startswith("c1-")
    assert len({s.casefold() for s in stems}) == len(set(ids))  # one file per customer, whatever the file system
