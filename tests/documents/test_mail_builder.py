"""The drafts built with ``email.mime`` read as the drafts the ``EmailMessage`` builder made (kept in
``mail_reference.py``): the same decoded headers, recipients, parts, names and contents, on
random names, subjects, bodies and attachments; and what a mail server receives from them is
the same once :func:`outgoing` has re-encoded them."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import re
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from email.mime.text import MIMEText

import pytest
from hypothesis import given, settings, strategies as st

from mail_reference import build_email_reference
from xl_ar.documents import mail
from xl_ar.documents.mail import Attachment, UnsafeHeader, build_email, eml_bytes, outgoing

NOW = dt.datetime(2026, 11, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SENT = dt.datetime(2026, 11, 16, 10, 30, tzinfo=dt.timezone.utc)

# Unicode spaces other than " " left out: Python's reader turns them into spaces, or splits an
# encoded word at them, whichever builder wrote the name.
_chars = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), blacklist_characters="\x85",
                       whitelist_characters=" ")
names = st.one_of(st.text(_chars, max_size=40), st.sampled_from(
    ["王经理", "Ms. Lee, CFO", '"Evil, Inc"', "Acme 应收组", "O'Brien (AP)", "a;b", "=?utf-8?b?QQ==?=", ""]))
addresses = st.sampled_from(["ap@huaxin.example", "lee@x.example", "a.b+c@xn--fsqu00a.xn--fiqs8s", "z@q.example"])
bodies = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
files = st.lists(st.builds(Attachment, st.text(_chars, min_size=1, max_size=30).filter(str.strip),
                           st.binary(max_size=300),
                           st.sampled_from(["application/pdf", "application/octet-stream", "text/csv",
                                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"])),
                 max_size=3)


def _read(raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    heads = {k: str(v).strip() for k, v in msg.items()
             if k not in ("Content-Type", "MIME-Version", "Content-Transfer-Encoding")}
    if "X-XL-AR-Items" in heads:  # folded at another of its spaces: the same list
        heads["X-XL-AR-Items"] = json.loads(heads["X-XL-AR-Items"])
    for h in ("From", "To"):
        heads[h] = [(a.display_name, a.addr_spec) for a in msg[h].addresses]
    # text by its lines (the reference also broke lines at U+2028 and the like; a lone CR is a break)
    parts = [(p.get_content_type(), p.get_filename(),
              p.get_content().splitlines() if p.get_content_maintype() == "text" else p.get_content())
             for p in msg.walk() if not p.is_multipart()]
    return {"heads": heads, "parts": parts, "type": msg.get_content_type()}


@settings(max_examples=150, deadline=None)
@given(sender=names, to=st.lists(st.tuples(names, addresses), min_size=1, max_size=4), subject=names,
       text=bodies, html=st.one_of(st.none(), bodies.filter(bool)), attachments=files,
       customer=names, items=st.lists(st.text(_chars, max_size=12), max_size=80))
def test_the_drafts_read_as_the_reference_builder_made_them(sender, to, subject, text, html, attachments,
                                                            customer, items):
    kw = dict(msg_id="xlar-0123456789abcdef0123", sender=(sender, "ar@acme.example"), to=to, subject=subject,
              text=text, html=html, date=NOW, attachments=attachments,
              meta={"X-XL-AR-Customer": customer, "X-XL-AR-Items": json.dumps(items, separators=(", ", ": ")),
                    "X-XL-AR-By": "张伟", "X-XL-AR-Stage": "mild"})
    try:
        want = build_email_reference(**kw)
    except UnsafeHeader:
        try:
            build_email(**kw)
        except UnsafeHeader:
            return
        raise AssertionError("the reference refused what the builder accepted") from None
    raw = eml_bytes(build_email(**kw))
    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    got, ref = _read(raw), _read(want)
    assert got["heads"] == {  # every header as given (the reference's reader added spaces to long names)
        "Subject": " ".join(subject.split()), "From": [(sender.strip(), "ar@acme.example")],
        "To": [(n.strip(), a) for n, a in to], "Date": "Sun, 15 Nov 2026 09:00:00 +0800",
        "Message-ID": "<xlar-0123456789abcdef0123@acme.example>", "X-XL-AR-Id": "xlar-0123456789abcdef0123",
        "X-Unsent": "1", "X-XL-AR-Customer": customer.strip(), "X-XL-AR-Items": items, "X-XL-AR-By": "张伟",
        "X-XL-AR-Stage": "mild"}
    assert (got["type"], got["parts"]) == (ref["type"], ref["parts"])
    # what is sent: the same recipients, subject, parts and tool headers, once re-encoded
    out = outgoing(raw, SENT)  # every draft made is accepted for sending
    try:
        out_ref = outgoing(want, SENT)
    except UnsafeHeader:  # the old builder's "0 =?utf-8?q?=C2=A0?=0" read back as malformed
        return
    assert (out.sender, out.recipients) == (out_ref.sender, out_ref.recipients)
    assert (out.subject, out.customer_id, out.items, out.by, out.stage) == \
        (" ".join(subject.split()), customer.strip(), items, "张伟", "mild")
    sent, sent_ref = _read(out.data), _read(out_ref.data)
    assert (sent["type"], sent["parts"], sent["heads"]["Subject"]) == \
        (sent_ref["type"], sent_ref["parts"], " ".join(subject.split()))
    assert sent["heads"]["To"] == [(n.strip(), a) for n, a in to]  # every name and address as given


def test_a_draft_is_the_same_bytes_every_time_and_its_boundaries_never_cut_a_part():
    import hashlib

    def draft(files):
        return eml_bytes(build_email(msg_id="xlar-00112233445566778899", sender=("应收组", "ar@x.example"),
                                     to=[("王经理", "ap@huaxin.example")], subject="对账单", text="您好\n", html="<p>您好</p>",
                                     date=NOW, attachments=files))

    pdf = Attachment("ST-K1.pdf", b"%PDF-1.7 " * 50, "application/pdf")
    one = draft([pdf])
    assert one == draft([pdf])  # no random boundary: a run made again writes the same draft
    # a name holding the very boundary this message would use: that multipart takes another
    mixed = "=_xl-ar_mixed_" + hashlib.sha256(b"xlar-00112233445566778899").hexdigest()[:24]
    assert mixed.encode() in one
    evil = Attachment(f"{mixed}.pdf", b"x" * 100, "application/pdf")
    msg = email.message_from_bytes(draft([evil, pdf]), policy=email.policy.default)
    assert msg.get_boundary() != mixed
    assert [(a.get_filename(), a.get_content()) for a in msg.iter_attachments()] == [
        (f"{mixed}.pdf", b"x" * 100), ("ST-K1.pdf", b"%PDF-1.7 " * 50)]
    assert msg.get_body(("plain",)).get_content() == "您好\r\n"  # the canonical CRLF form


def test_a_draft_file_is_written_whole_through_no_link_and_leaves_no_temp_file(tmp_path):
    import os

    from xl_ar.documents.mail import write_atomic

    target = tmp_path / "out" / "C1_dunning_abc.eml"
    write_atomic(target, b"first")
    write_atomic(target, b"second")  # replaced whole
    assert target.read_bytes() == b"second" and os.listdir(target.parent) == [target.name]
    # the temp name this process would use is a link planted by someone else: never written through
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep")
    (target.parent / f".~xl-ar-{target.name}.{os.getpid()}.tmp").symlink_to(victim)
    write_atomic(target, b"third")
    assert target.read_bytes() == b"third" and victim.read_bytes() == b"keep"
    assert sorted(os.listdir(target.parent)) == sorted([target.name, f".~xl-ar-{target.name}.{os.getpid()}.tmp"])
    # a name too long for a temp name beside it still gets written
    long = tmp_path / "out" / ("K" * 240 + ".eml")
    write_atomic(long, b"long")
    assert long.read_bytes() == b"long" and len(os.listdir(target.parent)) == 3


@pytest.mark.parametrize("one_call", [True, False], ids=["syncfs", "fsync-each"])
def test_drafts_written_unsynced_are_synced_together(tmp_path, monkeypatch, one_call):
    """A reminders run writes its drafts without an fsync each and syncs them all before the
    Outbox names them: one syncfs of the folder, or (where there is none) an fsync of each."""
    import os
    import sys

    from xl_ar.book import atomic
    from xl_ar.documents.mail import write_atomic

    if sys.platform.startswith("linux"):
        assert atomic.can_sync_folder()
    synced: list[int] = []
    if not one_call:
        monkeypatch.setattr(atomic, "_syncfs", lambda: None)
        real = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    files = [tmp_path / f"C{i}_dunning.eml" for i in range(5)]
    for i, f in enumerate(files):
        write_atomic(f, b"draft %d" % i, durable=False)
    atomic.sync_files(tmp_path, files)
    assert [f.read_bytes() for f in files] == [b"draft %d" % i for i in range(5)]
    assert sorted(os.listdir(tmp_path)) == sorted(f.name for f in files)
    assert len(synced) == (0 if one_call else 6)  # each file and the folder


line_ends = st.lists(st.sampled_from(["line", "ab", "\r\n", "\n", "\r", "", " ", "x" * 80]), max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(names, bodies, line_ends, files)
def test_a_drafts_bytes_are_the_standard_generators(name, body, raw_text, attachments):
    msg = build_email(msg_id="xlar-00112233445566778899", sender=("应收组", "ar@x.example"),
                      to=[(name, "ap@huaxin.example")], subject="对账", text=body, html="<p>" + body + "</p>",
                      date=NOW, attachments=attachments)
    assert eml_bytes(msg) == msg.as_bytes(policy=msg.policy)
    # Every body of a draft is CRLF already, so the writer takes each whole (not line by line).
    leaves = [p.get_payload() for p in msg.walk() if not p.is_multipart()]
    assert leaves and all(b.count("\n") == b.count("\r\n") == b.count("\r") for b in leaves)
    # A part whose text has bare CR or LF line ends goes the standard way, line by line.
    plain = email.message.Message(policy=msg.policy)
    plain["Subject"] = "x"
    plain.set_payload(raw_text)
    assert eml_bytes(plain) == plain.as_bytes(policy=plain.policy)


header_values = st.one_of(
    st.text(st.sampled_from("ab =?:,;<>\"'\t()-_.\r\n王"), max_size=90),
    st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30),
             max_size=6).map(" ".join))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["Subject", "To", "Message-ID", "X-XL-AR-Items", "Content-Type", "X"]), header_values)
def test_a_header_written_as_it_is_is_what_the_policy_folds(name, value):
    line = mail._header_line(name, value)
    assert line is None or line == mail._DRAFT.fold_binary(name, value)
    if value.isascii() and value.isprintable() and "  " not in value and value == value.strip() and value \
            and len(name) + len(value) + 2 <= 78:
        assert line is not None


def test_a_drafts_plain_headers_take_the_short_way(monkeypatch):
    msg = build_email(msg_id="xlar-00112233445566778899", sender=("AR team", "ar@x.example"),
                      to=[("Ms Lee", "ap@huaxin.example")], subject="Statement", text="Hello", html="<p>Hello</p>",
                      date=NOW, attachments=[Attachment("s.pdf", b"%PDF", "application/pdf")],
                      meta={"X-XL-AR-Customer": "C001", "X-XL-AR-Stage": "S1"})
    heads = [(k, v) for p in msg.walk() for k, v in p.raw_items()]
    slow = [v.partition(";")[0] for k, v in heads if mail._header_line(k, v) is None]
    assert len(heads) == 19 and slow == ["multipart/mixed", "multipart/alternative"]  # too long: folded
    assert eml_bytes(msg) == msg.as_bytes(policy=msg.policy)
    # The writer folds those two only, the parts' headers too (it writes each part with a copy
    # of the draft's policy).
    folded = []
    fold = type(mail._DRAFT).fold_binary
    monkeypatch.setattr(type(mail._DRAFT), "fold_binary", lambda self, k, v: folded.append(v) or fold(self, k, v))
    eml_bytes(msg)
    assert sorted(v.partition(";")[0] for v in folded) == ["multipart/alternative", "multipart/mixed"]


def test_only_a_policy_that_folds_as_the_drafts_takes_the_short_way():
    assert mail._folds_as_draft(mail._DRAFT) and mail._folds_as_draft(mail._DRAFT.clone(linesep="\r\n"))
    assert not mail._folds_as_draft(mail._DRAFT.clone(max_line_length=0))
    assert not mail._folds_as_draft(mail._DRAFT.clone(linesep="\n"))
    assert not mail._folds_as_draft(mail._DRAFT.clone(cte_type="7bit"))
    assert not mail._folds_as_draft(email.policy.SMTP)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.integers(0, 4).map(lambda k: bytes(range(256)) * k + b"x" * (57 * k))))
def test_a_body_is_encoded_as_the_email_package_encodes_it_with_crlf_ends(data):
    assert mail._base64_crlf(data) == base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


@settings(max_examples=100, deadline=None)
@given(files.filter(bool))
def test_an_attachment_is_what_encode_base64_makes(attachments):
    a = attachments[0]
    maintype, _, subtype = a.mimetype.partition("/")
    ref = MIMEBase(maintype, subtype, policy=mail._DRAFT)
    del ref["MIME-Version"]
    ref.set_payload(a.content)
    encode_base64(ref)
    got = mail._attachment(a)
    assert got.get_payload() == ref.get_payload().replace("\n", "\r\n")
    assert got.items()[:2] == ref.items() and got.get_payload(decode=True) == a.content


@settings(max_examples=150, deadline=None)
@given(bodies, st.sampled_from(["plain", "html"]))
def test_a_text_part_is_what_mimetext_makes(text, subtype):
    ends = text if text.endswith("\n") else text + "\n"
    ref = MIMEText(re.sub(r"\r\n|\r|\n", "\r\n", ends), subtype, "utf-8", policy=mail._DRAFT)
    del ref["MIME-Version"]
    ref.set_payload(ref.get_payload().replace("\n", "\r\n"))
    got = mail._text_part(text, subtype)
    assert got.items() == ref.items() and got.get_payload() == ref.get_payload()
    assert eml_bytes(got) == ref.as_bytes(policy=mail._DRAFT)
