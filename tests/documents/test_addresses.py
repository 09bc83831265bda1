"""E-mail cells: a quoted (or unquoted) name with a comma is one address; injection stays refused."""

from __future__ import annotations

import pytest

from xl_ar.app.reminders import build_reminders
from xl_ar.documents.mail import UnsafeHeader, parse_addresses

from test_reminders import AS_OF, CUSTOMERS, INVOICES, NOW, make_book, read_eml


@pytest.mark.parametrize("cell, expected", [
    ('"Evil, Inc" <e@x.example>', ["e@x.example"]),
    ("Evil, Inc <e@x.example>", ["e@x.example"]),  # typed without quotes: still the one address
    ('"Evil, Inc" <e@x.example>, b@y.example; "A;B" <c@z.example>', ["e@x.example", "b@y.example", "c@z.example"]),
    ('"Lee, Ms." <ap@harbor.example>；"Lee, Ms." <AP@harbor.example>', ["ap@harbor.example", "AP@harbor.example"]),
    ('"He said \\"hi, there\\"" <q@x.example>', ["q@x.example"]),
    ("王经理 <AP@HuaXin.Example>; b@x.example，b@x.example", ["AP@huaxin.example", "b@x.example"]),
])
def test_a_name_holding_a_comma_is_one_address(cell, expected):
    assert parse_addresses(cell) == expected


@pytest.mark.parametrize("bad", [
    '"Evil, Inc" <e@x.example>\r\nBcc: victim@else.example',
    '"Evil, Inc\r\nBcc: victim@else.example" <e@x.example>',
    '"Evil, Inc" <e@x.example\nBcc: victim@else.example>',
    '"a" <b@x.example> <c@x.example>',
    "<a@x.example",
    '"x <a@x.example>',
    "Evil, b c@x.example",
])
def test_header_injection_and_garbled_names_stay_refused(bad):
    with pytest.raises(UnsafeHeader):
        parse_addresses(bad)


def test_the_draft_goes_to_the_one_address(tmp_path):
    customers = [c[:] for c in CUSTOMERS[:2]]
    customers[1][4] = '"Harbor, Logistics" <ap@harbor.example>'
    book = make_book(tmp_path / "ledger.xlsx", customers=customers, invoices=INVOICES[:4])
    s = build_reminders(book, AS_OF, now=NOW)
    assert s.ok, s.issues
    (entry,) = [e for e in s.entries if e.customer_id == "C2"]
    msg = read_eml(tmp_path / entry.file)
    assert [a.addr_spec for a in msg["To"].addresses] == ["ap@harbor.example"]


def test_the_outbox_names_each_file_beside_the_book_or_where_it_really_is(tmp_path):
    book = make_book(tmp_path / "ledger.xlsx", customers=[c[:] for c in CUSTOMERS[:2]], invoices=INVOICES[:4])
    s = build_reminders(book, AS_OF, now=NOW)  # the default folder, beside the book
    emails = [e for e in s.entries if e.channel == "email"]
    assert emails and all(e.file == f"ledger-reminders-{AS_OF.isoformat()}/{f.name}"
                          for e, f in zip(emails, s.files))
    elsewhere = tmp_path.parent / f"{tmp_path.name}-out"
    (tmp_path / "link").symlink_to(elsewhere, target_is_directory=True)
    elsewhere.mkdir()
    s = build_reminders(book, AS_OF, tmp_path / "link" / "drafts", now=NOW)  # through a link, out of the folder
    emails = [e for e in s.entries if e.channel == "email"]
    assert emails and all(e.file == str(elsewhere.resolve() / "drafts" / f.name) for e, f in zip(emails, s.files))
    assert all((elsewhere / "drafts" / f.name).is_file() for f in s.files)
