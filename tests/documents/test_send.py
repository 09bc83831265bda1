"""Sending through a real SMTP server on 127.0.0.1 (aiosmtpd): messages, failures, crashes, resume."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from xl_ar.book.append import append_rows
from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.cli import main as docs_main
from xl_ar.documents.mail import (Attachment, UnsafeHeader, build_email, check_address, csv_safe, outgoing,
                             parse_addresses, phone_number, safe_text)
from xl_ar.app.reminders import build_reminders
from xl_ar.documents.send import Journal, SendError, journal_path, send_outbox, smtp_password

from test_reminders import AS_OF, CUSTOMERS, INVOICES, NOW, SETTINGS, make_book

REPO = Path(__file__).resolve().parents[2]
SENT_AT = dt.datetime(2025, 3, 31, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


# ----------------------------------------------------------------------------- the server


class Inbox:
    """An aiosmtpd handler that keeps what it accepts, and misbehaves on request.

    Args:
        reject: recipients refused with 550.
        per_connection: close the connection at MAIL once this many messages came over it
            (with a 421 reply first when ``say_421``).
        hang_at: block at the MAIL of this message (1-based, counted over all connections),
            once, after setting ``hanging`` (to kill the client meanwhile).
        drop_in_data: close the connection, without a reply and without keeping the message,
            after receiving the body of this message (once).
    """

    def __init__(self, reject=(), per_connection=None, hang_at=None, drop_in_data=None, say_421=False):
        self.reject, self.per_connection, self.say_421 = set(reject), per_connection, say_421
        self.hang_at, self.drop_in_data = hang_at, drop_in_data
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.mails = 0
        self.bodies = 0
        self.connections: dict[int, int] = {}
        self.hanging = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        n = self.connections.get(id(session), 0)
        if self.per_connection is not None and n >= self.per_connection:
            if self.say_421:  # the polite way: reply 421, then close
                asyncio.get_running_loop().call_later(0.05, server.transport.close)
            else:  # the rude way: just close
                server.transport.close()
            return "421 4.7.0 too many messages, closing"
        self.mails += 1
        if self.hang_at is not None and self.mails == self.hang_at:
            self.hang_at = None
            self.hanging.set()
            await asyncio.sleep(60)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.bodies += 1
        if self.drop_in_data is not None and self.bodies == self.drop_in_data:
            self.drop_in_data = None
            server.transport.abort()
            return "451 gone"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.connections[id(session)] = self.connections.get(id(session), 0) + 1
        return "250 2.0.0 OK"

    def parsed(self):
        return [email.message_from_bytes(m[2], policy=email.policy.default) for m in self.messages]

    def ids(self):
        return [m["X-XL-AR-Id"] for m in self.parsed()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(handler, **kw):
    port = free_port()
    c = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    c.start()
    try:
        yield port
    finally:
        c.stop()


def book_for(tmp_path: Path, port: int, *, customers=CUSTOMERS, invoices=INVOICES, extra=(), security="none",
             rate=60000, lang="en", drop_activities=False, approve=True) -> Path:
    settings = [(k, v) for k, v in SETTINGS if k != "SmtpSecurity"] + [
        ("SmtpPort", port), ("SmtpSecurity", security), ("SendRatePerMinute", rate), *extra]
    book = make_book(tmp_path / "ledger.xlsx", customers=customers, invoices=invoices, settings=settings, lang=lang)
    if drop_activities:
        wb = openpyxl.load_workbook(book)
        del wb["Activities"]
        wb.save(book)
    s = build_reminders(book, AS_OF, now=NOW)
    assert s.ok, s.issues
    if approve:
        approve_all(book)
    return book


def approve_all(book: Path, by: str = "王律师", at: str = "2025-03-31") -> None:
    """A person approves every Outbox row awaiting review (C4's lawyer's letter)."""
    wb = openpyxl.load_workbook(book)
    ws = wb["Outbox"] if "Outbox" in wb.sheetnames else wb["发件箱"]
    head = [c.value for c in ws[1]]
    col = {h: j + 1 for j, h in enumerate(head)}
    a, b, t = (col.get(x) or col.get(y) for x, y in (("Approved", "已批准"), ("ApprovedBy", "批准人"),
                                                      ("ApprovedAt", "批准时间")))
    review = col.get("Review") or col.get("需审核")
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, review).value:
            ws.cell(r, a).value, ws.cell(r, b).value, ws.cell(r, t).value = "yes", by, at
    wb.save(book)


def many(n: int):
    """n customers, each with one invoice 20 days overdue (n friendly overdue e-mails)."""
    customers = [[f"M{i}", f"客户{i}有限公司", "B", f"联系人{i}", f"m{i}@many.example", "", 30, 1.0, "", "zh"]
                 for i in range(1, n + 1)]
    invoices = [[f"V{i}", f"M{i}", D(2025, 2, 1), D(2025, 3, 11), 100.0 * i, "CNY", "", "", "", ""]
                for i in range(1, n + 1)]
    return customers, invoices


D = dt.date


def activities(book: Path) -> list[tuple]:
    ws = openpyxl.load_workbook(book)["Activities"]
    return [r for r in ws.iter_rows(min_row=2, max_col=9, values_only=True) if any(v is not None for v in r)]


def outbox_status(book: Path) -> dict[str, str]:
    ws = openpyxl.load_workbook(book)["Outbox"]
    return {r[2]: r[0] for r in ws.iter_rows(min_row=2, values_only=True)}


def journal_states(book: Path) -> list[str]:
    return [json.loads(x)["state"] for x in journal_path(book).read_text(encoding="utf-8").splitlines()]


# ----------------------------------------------------------------------------- sending


def test_a_dry_run_sends_and_writes_nothing(tmp_path, capsys):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        before = book.read_bytes()
        r = send_outbox(book)
        assert r.dry_run and [p.entry.customer_id for p in r.planned] == ["C1", "C2", "C4"]
        assert r.planned[0].attachments[0].endswith(".xlsx")
        assert docs_main(["send", str(book)]) == 0
        out = capsys.readouterr().out
        assert "would send: ap@huaxin.example" in out and "dry run" in out
    assert inbox.messages == [] and book.read_bytes() == before
    assert not journal_path(book).exists()


def test_messages_arrive_with_encoded_headers_parts_and_attachment_and_are_logged(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        drafts = {p.entry.customer_id: p.out.id for p in send_outbox(book).planned}
        r = send_outbox(book, yes=True, now=lambda: SENT_AT)
    assert r.sent == [drafts["C1"], drafts["C2"], drafts["C4"]] and r.ok
    assert [m[0] for m in inbox.messages] == ["ar@acme.example"] * 3
    assert [m[1] for m in inbox.messages] == [["ap@huaxin.example"], ["ap@harbor.example"], ["ar@olddebt.example"]]
    raw = inbox.messages[0][2]
    assert raw.isascii()  # no SMTPUTF8 or 8BITMIME needed anywhere
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "Subject: =?utf-8?b?" in head and "From: =?utf-8?b?" in head and "To: =?utf-8?b?" in head
    assert "X-Unsent" not in head and "X-XL-AR-Items" not in head and "X-XL-AR-By" not in head
    msg = inbox.parsed()[0]
    assert msg["Subject"] == "逾期账款提醒 – 艾克美贸易有限公司"
    assert msg["From"].addresses[0].display_name == "Acme 应收组"
    assert msg["To"].addresses[0].display_name == "王经理"
    assert msg["Message-ID"] == f"<{drafts['C1']}@acme.example>" and msg["X-XL-AR-Id"] == drafts["C1"]
    assert msg["Date"].datetime == SENT_AT
    assert msg.get_content_type() == "multipart/mixed"
    alt, att = msg.get_payload()
    assert [p.get_content_type() for p in alt.get_payload()] == ["text/plain", "text/html"]
    assert "已逾期 28 天" in msg.get_body(("plain",)).get_content()
    assert att.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert att.get_filename().endswith(".xlsx") and att.get_content()[:2] == b"PK"
    # the collection log: one row per invoice, the id in the note; the Outbox shows what went
    rows = activities(book)
    assert [(r[1], r[2], r[3], r[8]) for r in rows] == [
        ("C3", "I7", "sms", "sent"), ("C1", "I2", "email", "sent"), ("C2", "I4", "email", "sent"), ("C2", "I6", "email", "sent"),
        ("C2", "I5", "email", "sent"), ("C4", "I8", "email", "sent")]
    assert rows[1][0] == dt.datetime(2025, 3, 31) and rows[1][4] == "张伟"
    assert f"[{drafts['C1']}]" in rows[1][5]
    assert outbox_status(book) == {"C1": "sent", "C2": "sent", "C3": "sent", "C4": "sent"}
    ws = openpyxl.load_workbook(book)["Activities"]
    assert ws.tables["tblActivities"].ref == "A1:J7" and ws["A2"].number_format == "yyyy-mm-dd"


def test_a_chinese_workbook_is_logged_in_chinese(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port, lang="zh")
        r = send_outbox(book, yes=True, now=lambda: SENT_AT)
    assert len(r.sent) == 3
    wb = openpyxl.load_workbook(book)
    log = [row for row in wb["催收日志"].iter_rows(min_row=2, values_only=True) if row[1]]
    assert [(row[1], row[2], row[8]) for row in log][:3] == [("C3", "I7", "已发送"), ("C1", "I2", "已发送"), ("C2", "I4", "已发送")]
    assert log[1][5].startswith("已发送邮件：逾期账款提醒")
    assert {row[2]: row[0] for row in wb["发件箱"].iter_rows(min_row=2, values_only=True)}["C1"] == "已发送"


def test_a_book_without_an_activities_sheet_gets_one(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port, drop_activities=True)
        assert "Activities" not in openpyxl.load_workbook(book).sheetnames
        r = send_outbox(book, yes=True, now=lambda: SENT_AT)
    assert r.logged == 6
    rows = activities(book)
    assert rows[1][:4] == (dt.datetime(2025, 3, 31), "C1", "I2", "email")
    again = send_outbox(book, yes=True)  # and the new sheet is read back: nothing twice
    assert again.sent == [] and again.logged == 0 and len(inbox.messages) == 3


def test_the_cli_sends_with_yes_and_reports_json(tmp_path, capsys):
    inbox = Inbox(reject={"ar@olddebt.example"})
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        assert docs_main(["send", str(book), "--yes", "--json"]) == 1  # one message failed
    got = json.loads(capsys.readouterr().out)
    assert len(got["sent"]) == 2 and len(got["failed"]) == 1 and got["dry_run"] is False
    assert got["logged"] == 5 and len(inbox.messages) == 2


def test_sending_again_sends_nothing_twice(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        send_outbox(book, yes=True)
        again = send_outbox(book, yes=True)
        # even a fresh reminders run for the same day makes the same ids, already sent
        s = build_reminders(book, AS_OF, now=NOW)
        third = send_outbox(book, yes=True)
    assert len(inbox.messages) == 3 and again.sent == [] and third.sent == []
    assert set(again.skipped.values()) == {"already sent", "SMS: send sms.csv through your SMS gateway"}
    assert [e.status for e in s.entries if e.channel == "email"] == ["sent"] * 3
    assert len(activities(book)) == 6


def test_a_customer_with_many_overdue_invoices_gets_its_reminder_and_each_is_logged(tmp_path):
    # 60 overdue invoices make an items header of ~1,300 characters: it folds into short
    # lines, and every invoice is logged when the reminder goes (it was once refused as "long").
    customers = [["L1", "Long List Ltd", "B", "Ms. Long", "ap@long.example", "", 30, 1.0e6, "Tom Chen", "en"]]
    invoices = [[f"INV-2025-{k:05d}", "L1", D(2025, 1, 1), D(2025, 3, 1), 100.0 + k, "CNY", "", "", "", ""]
                for k in range(60)]
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port, customers=customers, invoices=invoices)
        eml = next(tmp_path.rglob("L1_*.eml")).read_bytes()
        head = eml.split(b"\r\n\r\n", 1)[0]
        assert max(len(x) for x in head.split(b"\r\n")) <= 78
        r = send_outbox(book, yes=True)
    assert r.ok and len(r.sent) == 1 and len(inbox.messages) == 1
    assert b"X-XL-AR-Items" not in inbox.messages[0][2].split(b"\r\n\r\n", 1)[0]
    rows = activities(book)
    assert sorted(x[2] for x in rows) == [f"INV-2025-{k:05d}" for k in range(60)]
    assert {(x[1], x[3], x[8]) for x in rows} == {("L1", "email", "sent")}


def test_a_message_on_hold_stays_on_hold_and_is_not_sent(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        wb = openpyxl.load_workbook(book)
        wb["Outbox"]["A3"] = "暂缓"  # C2, typed in Chinese in an English book
        wb.save(book)
        build_reminders(book, AS_OF, now=NOW)  # a new reminders run keeps the hold
        assert outbox_status(book)["C2"] == "hold"
        r = send_outbox(book, yes=True)
    assert list(r.skipped.values()).count("on hold") == 1 and len(r.sent) == 2
    assert [m[1] for m in inbox.messages] == [["ap@huaxin.example"], ["ar@olddebt.example"]]
    assert outbox_status(book)["C2"] == "hold"


def test_a_rejected_recipient_fails_that_message_only(tmp_path):
    inbox = Inbox(reject={"ap@harbor.example"})
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        r = send_outbox(book, yes=True)
    assert len(r.sent) == 2 and list(r.failed.values())[0].startswith("recipient refused: ap@harbor.example: 550")
    assert not r.ok
    assert [m[1] for m in inbox.messages] == [["ap@huaxin.example"], ["ar@olddebt.example"]]
    assert outbox_status(book)["C2"] == "failed"
    assert {r[1] for r in activities(book)} == {"C1", "C3", "C4"}


def test_one_refused_address_of_two_still_delivers_to_the_other(tmp_path):
    customers = [["C1", "Two Boxes Ltd", "B", "", "a@two.example; b@two.example", "", 30, 1.0, "", "en"]]
    invoices = [["I1", "C1", D(2025, 1, 1), D(2025, 2, 1), 100.0, "CNY", "", "", "", ""]]
    inbox = Inbox(reject={"b@two.example"})
    with server(inbox) as port:
        book = book_for(tmp_path, port, customers=customers, invoices=invoices)
        r = send_outbox(book, yes=True)
    assert len(r.sent) == 1 and inbox.messages[0][1] == ["a@two.example"]
    assert list(r.refused_recipients.values())[0]["b@two.example"].startswith("550")


@pytest.mark.parametrize("say_421", [False, True])
def test_a_server_that_drops_the_connection_mid_batch_gets_a_new_one(tmp_path, say_421):
    customers, invoices = many(5)
    inbox = Inbox(per_connection=2, say_421=say_421)
    with server(inbox) as port:
        book = book_for(tmp_path, port, customers=customers, invoices=invoices)
        r = send_outbox(book, yes=True)
    assert len(r.sent) == 5 and r.ok
    assert sorted(inbox.ids()) == sorted(r.sent)  # each exactly once
    assert len(inbox.connections) == 3
    assert len(activities(book)) == 5


def test_a_crash_half_way_resumes_without_duplicates(tmp_path):
    customers, invoices = many(5)
    inbox = Inbox(hang_at=3)
    with server(inbox) as port:
        book = book_for(tmp_path, port, customers=customers, invoices=invoices)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from xl_ar.documents.send import send_outbox; "
                                 "send_outbox(sys.argv[1], yes=True)", str(book)], env=env, cwd=tmp_path)
        try:
            assert inbox.hanging.wait(60), "the client never reached the third message"
            proc.kill()  # as hard as a crash gets: no cleanup, no finally
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert len(inbox.messages) == 2
        assert journal_states(book) == ["sending", "sent", "sending", "sent"]
        assert activities(book) == []  # the crash came before the log was written
        r = send_outbox(book, yes=True)
    assert len(r.sent) == 3 and r.logged == 5
    ids = inbox.ids()
    assert len(ids) == 5 and len(set(ids)) == 5
    assert sorted(r[1] for r in activities(book)) == ["M1", "M2", "M3", "M4", "M5"]


def test_a_message_cut_off_during_its_body_is_not_sent_again_unless_asked(tmp_path):
    customers, invoices = many(3)
    inbox = Inbox(drop_in_data=2)
    with server(inbox) as port:
        book = book_for(tmp_path, port, customers=customers, invoices=invoices)
        r = send_outbox(book, yes=True)
        (maybe,) = r.uncertain
        assert len(r.sent) == 2 and maybe not in inbox.ids()
        assert outbox_status(book)["M2"] == "check: sent?"
        again = send_outbox(book, yes=True)
        assert again.sent == [] and maybe in again.uncertain
        forced = send_outbox(book, yes=True, retry_uncertain=True)
    assert forced.sent == [maybe] and sorted(inbox.ids()) == sorted(r.sent + [maybe])
    assert outbox_status(book)["M2"] == "sent" and len(activities(book)) == 3


def test_the_rate_limit_spaces_the_messages(tmp_path):
    inbox = Inbox()
    t = [0.0]
    waits = []

    def sleep(s):
        waits.append(round(s, 6))
        t[0] += s

    with server(inbox) as port:
        book = book_for(tmp_path, port, rate=30)
        send_outbox(book, yes=True, sleep=sleep, clock=lambda: t[0])
    assert waits == [2.0, 2.0] and len(inbox.messages) == 3


def test_the_wait_is_never_below_zero_when_the_clock_moves_on_meanwhile(tmp_path):
    """The clock is read once for a wait: at a high rate the deadline can pass between two
    readings (a sender once crashed so: "sleep length must be non-negative")."""
    inbox = Inbox()
    t = [0.0]
    waits = []

    def clock():
        t[0] += 0.0006  # each reading 0.6 ms later: the 1 ms between messages runs out between two
        return t[0]

    def sleep(s):
        assert s >= 0
        waits.append(s)
        t[0] += s

    with server(inbox) as port:
        book = book_for(tmp_path, port, rate=60_000)
        r = send_outbox(book, yes=True, sleep=sleep, clock=clock)
    assert len(r.sent) == 3 and len(inbox.messages) == 3


def test_a_book_open_in_excel_is_logged_on_the_next_send(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        lock = tmp_path / "~$ledger.xlsx"
        lock.write_bytes(b"owner")
        r = send_outbox(book, yes=True)
        assert len(r.sent) == 3 and r.pending_log == 4
        assert "next xl-ar send" in r.issues[-1].message
        assert activities(book) == []
        lock.unlink()
        again = send_outbox(book, yes=True)
    assert again.sent == [] and again.logged == 6 and len(inbox.messages) == 3
    assert len(activities(book)) == 6


def test_two_sends_of_one_book_never_run_at_once(tmp_path):
    with server(Inbox()) as port:
        book = book_for(tmp_path, port)
        with Journal(book).open():
            with pytest.raises(SendError, match="another xl-ar send is running"):
                send_outbox(book, yes=True)


def test_a_non_draft_file_or_a_tampered_draft_is_refused(tmp_path):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        wb = openpyxl.load_workbook(book)
        ws = wb["Outbox"]
        ws["K2"] = "/etc/passwd"  # File of C1
        secret = tmp_path / "ledger-reminders-2025-03-31"
        c2 = next(secret.glob("C2_*.eml"))
        c2.write_bytes(c2.read_bytes().replace(b"To: \"Ms. Lee\" <ap@harbor.example>", b"To: <ap@harbor..example>"))
        wb.save(book)
        r = send_outbox(book, yes=True)
    assert "is not an .eml file" in r.failed[ws["M2"].value]
    assert "refused" in r.failed[ws["M3"].value]
    assert [m[1] for m in inbox.messages] == [["ar@olddebt.example"]]


# ----------------------------------------------------------------------------- TLS and passwords


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and the server and client SSL contexts."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
           .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
           .not_valid_after(now + dt.timedelta(days=30))
           .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
           .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    client_ctx = ssl.create_default_context(cafile=str(d / "cert.pem"))
    return server_ctx, client_ctx


def authenticator(logins):
    def auth(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"ar@acme.example", b"s3cret")
        logins.append((mechanism, ok, session.ssl is not None))
        return AuthResult(success=ok)
    return auth


def test_starttls_and_login_with_the_password_from_the_environment(tmp_path, cert, monkeypatch):
    server_ctx, client_ctx = cert
    inbox, logins = Inbox(), []
    monkeypatch.setenv("XL_AR_SMTP_PASSWORD", "s3cret")
    with server(inbox, tls_context=server_ctx, require_starttls=True, authenticator=authenticator(logins),
                auth_require_tls=True) as port:
        book = book_for(tmp_path, port, security="starttls",
                        extra=[("SmtpUser", "ar@acme.example"), ("SmtpPassword", "in-the-book")])
        r = send_outbox(book, yes=True, ssl_context=client_ctx)
    assert len(r.sent) == 3 and logins and all(ok and tls for _, ok, tls in logins)
    assert any("SmtpPassword" in i.message for i in r.issues)  # the book's password was not used
    assert b"in-the-book" not in b"".join(m[2] for m in inbox.messages)


def test_implicit_tls_with_the_password_from_the_keyring(tmp_path, cert, monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1

        def __init__(self):
            self.d = {}

        def get_password(self, service, user):
            return self.d.get((service, user))

        def set_password(self, service, user, password):
            self.d[(service, user)] = password

        def delete_password(self, service, user):
            self.d.pop((service, user), None)

    server_ctx, client_ctx = cert
    monkeypatch.delenv("XL_AR_SMTP_PASSWORD", raising=False)
    old = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        keyring.set_password("xl-ar", "ar@acme.example", "s3cret")
        inbox, logins = Inbox(), []
        with server(inbox, ssl_context=server_ctx, authenticator=authenticator(logins), auth_require_tls=False) as port:
            book = book_for(tmp_path, port, security="ssl", extra=[("SmtpUser", "ar@acme.example")])
            r = send_outbox(book, yes=True, ssl_context=client_ctx)
        assert len(r.sent) == 3 and logins and all(ok for _, ok, _ in logins)
    finally:
        keyring.set_keyring(old)


def test_no_password_anywhere_stops_before_connecting(tmp_path, monkeypatch):
    monkeypatch.delenv("XL_AR_SMTP_PASSWORD", raising=False)
    monkeypatch.setattr("xl_ar.documents.send.smtp_password", lambda user, env=None: None)
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port, extra=[("SmtpUser", "someone")], security="starttls")
        with pytest.raises(SendError, match="XL_AR_SMTP_PASSWORD"):
            send_outbox(book, yes=True)
    assert inbox.messages == []


def test_a_password_over_an_unencrypted_connection_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XL_AR_SMTP_PASSWORD", "x")
    settings = [("SmtpHost", "mail.example.com"), ("SmtpSecurity", "none"), ("SmtpUser", "me")]
    with server(Inbox()) as port:
        book = book_for(tmp_path, port)
    wb = openpyxl.load_workbook(book)
    for k, v in settings:
        wb["Settings"].append([k, v, ""])
    wb.save(book)
    with pytest.raises(SendError, match="unencrypted"):
        send_outbox(book, yes=True)


def test_password_lookup_order():
    assert smtp_password("u", env={"XL_AR_SMTP_PASSWORD": "from-env"}) == "from-env"


# ----------------------------------------------------------------------------- headers and cells


@pytest.mark.parametrize("bad", ["a@b.example\r\nBcc: c@d.example", "a@b.example\nBcc: c@d.example",
                                 "a@b.example\x00", "not an address", "a@b", "a@-b.example", "a b@c.example"])
def test_unsafe_addresses_are_refused(bad):
    with pytest.raises(UnsafeHeader):
        parse_addresses(bad)


def test_addresses_are_checked_and_normalised():
    assert parse_addresses(" 王经理 <AP@HuaXin.Example>; b@x.example，b@x.example ") == ["AP@huaxin.example", "b@x.example"]
    assert check_address("ap@例子.中国") == "ap@xn--fsqu00a.xn--fiqs8s"


@pytest.mark.parametrize("field", ["name", "subject", "sender"])
def test_header_injection_in_names_and_subjects_is_refused(field):
    kw = dict(msg_id="xlar-00000000000000000000", sender=("Acme", "ar@acme.example"), to=[("Lee", "ap@x.example")],
              subject="Reminder", text="t", html=None, date=NOW)
    evil = "Acme\r\nBcc: victim@else.example"
    if field == "name":
        kw["to"] = [(evil, "ap@x.example")]
    elif field == "subject":
        kw["subject"] = "Hello\x00" + evil
    else:
        kw["sender"] = (evil, "ar@acme.example")
    with pytest.raises(UnsafeHeader):
        build_email(**kw)
    assert safe_text("  ok  ", "x") == "ok"


def test_a_subject_template_line_break_becomes_a_space_and_round_trips():
    msg = build_email(msg_id="xlar-00000000000000000000", sender=("Acme 应收", "ar@acme.example"),
                      to=[("王经理", "ap@x.example")], subject="催款函\n – 北京恒通", text="正文", html="<p>正文</p>",
                      date=NOW, attachments=[Attachment("对账单.xlsx", b"PK\x03\x04", "application/octet-stream")],
                      meta={"X-XL-AR-Items": '["发票1"]'})
    out = outgoing(msg.as_bytes(), SENT_AT)
    got = email.message_from_bytes(out.data, policy=email.policy.default)
    assert got["Subject"] == "催款函 – 北京恒通" and out.recipients == ["ap@x.example"]
    assert next(got.iter_attachments()).get_filename() == "对账单.xlsx"
    assert out.items == ["发票1"] and "X-XL-AR-Items" not in got


def test_csv_cells_and_phone_numbers_cannot_carry_formulas():
    assert [csv_safe(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=x", "ok", 5)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\t=x", "ok", "5"]
    assert phone_number("+86 (139) 0000-0000") == "8613900000000"
    assert phone_number("=HYPERLINK(\"x\")") == "" and phone_number(13800000000.0) == "13800000000"


# ----------------------------------------------------------------------------- appending to Activities


def log_book(path: Path, table_rows: int = 5, below: dict | None = None, right: dict | None = None) -> Path:
    """An Activities sheet as a user keeps it: a Table pre-formatted down to ``table_rows``."""
    from openpyxl.worksheet.table import Table

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "催收日志"
    ws.append(["日期", "客户编号", "发票号", "方式", "经办人", "内容"])
    ws.append([dt.date(2025, 1, 5), "C1", "I1", "phone", "张伟", "答应下周付"])
    for r in range(2, table_rows + 1):
        ws.cell(r, 1).number_format = "yyyy-mm-dd"
    ws.add_table(Table(displayName="tblLog", ref=f"A1:F{table_rows}"))
    for ref, v in (below or {}).items():
        ws[ref] = v
    for ref, v in (right or {}).items():
        ws[ref] = v
    wb.save(path)
    return path


def test_rows_fill_the_tables_empty_rows_then_extend_it(tmp_path):
    book = log_book(tmp_path / "log.xlsx", right={"H3": "keep me"})
    pkg = WorkbookPackage.open(book)
    res = append_rows(pkg, "催收日志", [{1: dt.date(2025, 3, 31), 2: "C2", 6: "<&> 文本"}, {1: dt.date(2025, 4, 1), 2: "C3"}],
                      header_row=1)
    assert (res.first_row, res.last_row) == (3, 4)
    pkg.save(book)
    pkg = WorkbookPackage.open(book)
    res = append_rows(pkg, "催收日志", [{2: f"X{i}", 5: 1.5} for i in range(3)], header_row=1)
    assert (res.first_row, res.last_row) == (5, 7)
    pkg.save(book)
    ws = openpyxl.load_workbook(book)["催收日志"]
    assert [r[:2] for r in ws.iter_rows(min_row=2, max_row=7, values_only=True)] == [
        (dt.datetime(2025, 1, 5), "C1"), (dt.datetime(2025, 3, 31), "C2"), (dt.datetime(2025, 4, 1), "C3"),
        (None, "X0"), (None, "X1"), (None, "X2")]
    assert ws["F3"].value == "<&> 文本" and ws["H3"].value == "keep me" and ws["E7"].value == 1.5
    assert ws["A3"].number_format == "yyyy-mm-dd"  # the format of the row above
    assert ws.tables["tblLog"].ref == "A1:F7" and ws.dimensions == "A1:H7"


def test_a_value_in_the_way_stops_the_append_and_changes_nothing(tmp_path):
    book = log_book(tmp_path / "log.xlsx", table_rows=2, below={"B3": "a note under the table"})
    pkg = WorkbookPackage.open(book)
    with pytest.raises(BookError, match="B3"):
        append_rows(pkg, "催收日志", [{2: "C9"}], header_row=1)
    assert pkg.changed_parts == []
