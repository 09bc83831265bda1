"""Reminders on real workbooks: which customers and items, which letter, the .eml drafts, SMS list, Outbox."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import hashlib
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.documents import DOCS_SETTING_DEFAULTS, parse_docs_settings
from xl_ar.cli import main as docs_main
from xl_ar.app.reminders import build_reminders
from xl_ar.documents.reminders import open_items_attachment

D = dt.date
AS_OF = D(2025, 3, 31)

# id, name, class, contact, email, phone, terms, limit, owner, language
CUSTOMERS = [
    ["C1", "上海华信贸易有限公司", "A", "王经理", "ap@huaxin.example", "13800000000", 30, 100000.0, "张伟", "zh"],
    ["C2", "Harbor Logistics Ltd", "B", "Ms. Lee", "ap@harbor.example", "", 60, 50000.0, "Tom Chen", "en"],
    ["C3", "=HYPERLINK(\"http://x\")小微商贸", "C", "李总", "", "+86 139-0000-0000", 90, 10000.0, "王芳", "zh"],
    ["C4", "Old Debt GmbH", "B", "Mr. Old", "ar@olddebt.example", "", 30, 10000.0, "Tom Chen", "en"],
    ["C5", "Evil Corp", "B", "x", "a@evil.example\r\nBcc: victim@else.example", "", 30, 1.0, "", "en"],
    ["C6", "Bad Name\r\nBcc: victim@else.example", "B", "", "ok@name.example", "", 30, 1.0, "", "en"],
    ["C7", "Quarrel Ltd", "B", "", "q@quarrel.example", "", 30, 1.0, "", "en"],
    ["C8", "Soon Only Ltd", "B", "", "s@soon.example", "", 30, 1.0, "", "en"],
    ["C9", "No Mail Ltd", "B", "", "", "", 30, 1.0, "", "en"],
]
# invoice, customer, date, due, amount, currency, contract, description, disputed, reason
INVOICES = [
    ["I2", "C1", D(2025, 2, 1), D(2025, 3, 3), 20000.00, "CNY", "HT1", "货款", "", ""],       # mild, 28 days
    ["I4", "C2", D(2024, 12, 1), D(2025, 2, 14), 5000.00, "CNY", "", "Goods", "", ""],       # moderate, 45 days
    ["I6", "C2", D(2025, 3, 20), D(2025, 4, 2), 1234.56, "USD", "", "Service", "", ""],      # pre-due (B: 3 days)
    ["I5", "C2", D(2025, 3, 25), D(2025, 4, 6), 300.00, "CNY", "", "Parts", "", ""],         # due soon (6 days)
    ["I7", "C3", D(2025, 3, 1), D(2025, 4, 5), 800.00, "CNY", "", "", "", ""],               # pre-due C: SMS
    ["I8", "C4", D(2024, 9, 1), D(2024, 10, 1), 3000.00, "EUR", "", "", "", ""],             # severe
    ["I9", "C5", D(2025, 1, 1), D(2025, 2, 1), 100.00, "CNY", "", "", "", ""],
    ["I10", "C6", D(2025, 1, 1), D(2025, 2, 1), 100.00, "CNY", "", "", "", ""],
    ["I11", "C7", D(2025, 1, 1), D(2025, 2, 1), 900.00, "CNY", "", "", "是", "wrong price"],  # disputed only
    ["I12", "C8", D(2025, 3, 25), D(2025, 4, 6), 100.00, "CNY", "", "", "", ""],             # due soon only
    ["I13", "C9", D(2025, 1, 1), D(2025, 2, 1), 100.00, "CNY", "", "", "", ""],
]
SETTINGS = [
    ("CompanyName", "Acme Trading Co."), ("CompanyNameZh", "艾克美贸易有限公司"), ("SenderName", "Acme 应收组"),
    ("SenderEmail", "ar@acme.example"), ("BankAccount", "ICBC 6222 0000 1111"), ("SmtpHost", "127.0.0.1"),
    ("SmtpSecurity", "none"),
]


def make_book(path: Path, *, lang: str = "en", customers=CUSTOMERS, invoices=INVOICES, settings=SETTINGS,
              activities=()) -> Path:
    """A ledger workbook as a user keeps it, with the documents settings added to Settings."""
    wb = build_ledger_workbook(lang, {"Customers": customers, "Invoices": invoices, "Receipts": [],
                                      "Activities": list(activities)})
    for sheet in wb.worksheets:  # text typed with a leading "=" stays text (openpyxl would make it a formula)
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
    ws = wb[wb.sheetnames[0]]
    for k, v in settings:
        ws.append([k, v, ""])
    wb.save(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_eml(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


NOW = dt.datetime(2025, 3, 31, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture()
def run(tmp_path):
    book = make_book(tmp_path / "ledger.xlsx")
    summary = build_reminders(book, AS_OF, now=NOW)
    return book, summary


def by_customer(summary):
    return {e.customer_id: e for e in summary.entries}


def test_one_message_per_customer_worded_for_its_worst_stage(run):
    book, s = run
    assert s.ok, s.issues
    got = {c: (e.channel, e.status, e.file.split("_")[1] if e.channel == "email" else "")
           for c, e in by_customer(s).items()}
    assert got == {
        "C1": ("email", "draft", "overdue"),   # 28 days late: a friendly overdue note
        "C2": ("email", "draft", "dunning"),   # 45 days late: the formal dunning letter 催款函
        "C3": ("sms", "sms", ""),              # class C, due in 5 days: the SMS rule
        "C4": ("email", "review", "lawyer"),   # 181 days late: the lawyer's-letter draft, held for approval
    }
    # C7: only a disputed invoice (not dunned); C8: only due soon (no stage yet); C9: no address.
    assert by_customer(s)["C2"].items == "I4, I6, I5"  # most overdue first, the due-soon item listed too
    assert len(s.files) == 3 and all(f.exists() for f in s.files)


def _stored_as_excel_does(path: Path, placeholder: str, stored: str) -> Path:
    """``path`` with ``placeholder`` replaced in its sheets' XML: a text openpyxl cannot write."""
    data = {}
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        for info in infos:
            data[info.filename] = z.read(info).replace(placeholder.encode(), stored.encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in infos:
            z.writestr(info, data[info.filename])
    return path


@pytest.mark.parametrize("column, row, field", [("A", 11, 0), ("D", 11, 3), ("B", 11, 1)],
                         ids=["id", "contact", "name"])
def test_a_control_character_is_refused_at_the_cell_it_is_in(tmp_path, column, row, field):
    """A BEL in a customer's id, contact or name (Excel stores it as ``_x0007_``): no message,
    and the warning names the cell it is in."""
    customer = ["C10", "Bell Ltd", "B", "Ms. Bell", "bell@bell.example", "", 30, 1.0, "Tom Chen", "en"]
    customer[field] += "QQBELQQ"
    cid = customer[0].replace("QQBELQQ", "\x07")
    invoices = INVOICES + [["I14", customer[0], D(2025, 1, 1), D(2025, 2, 1), 100.00, "CNY", "", "", "", ""]]
    book = _stored_as_excel_does(make_book(tmp_path / "ledger.xlsx", customers=CUSTOMERS + [customer],
                                           invoices=invoices), "QQBELQQ", "_x0007_")
    s = build_reminders(book, AS_OF, now=NOW)
    assert cid not in by_customer(s)
    msgs = {i.where: i.message for i in s.issues if "Bell" in i.message or cid in i.message}
    assert list(msgs) == [f"Customers!{column}{row}"], msgs
    assert "control character" in msgs[f"Customers!{column}{row}"]


def test_unsafe_or_missing_addresses_are_refused_with_the_cell_named(run):
    _, s = run
    msgs = {i.where: i.message for i in s.issues}
    assert "header injection" in msgs["Customers!E6"] and "C5" in msgs["Customers!E6"]
    assert "header injection" in msgs["Customers!B7"] and "C6" in msgs["Customers!B7"]
    assert "no e-mail address" in msgs["Customers!E10"]
    assert all(i.severity == "warning" for i in s.issues)
    for f in s.files:
        assert b"victim@else.example" not in f.read_bytes()


def test_the_draft_is_a_complete_email_in_the_customers_language(run):
    _, s = run
    msg = read_eml(next(f for f in s.files if f.name.startswith("C1_")))
    assert msg["Subject"] == "逾期账款提醒 – 艾克美贸易有限公司"
    assert msg["From"].addresses[0].display_name == "Acme 应收组"
    assert msg["To"].addresses[0].addr_spec == "ap@huaxin.example"
    assert msg["X-Unsent"] == "1" and msg["X-XL-AR-Id"] == by_customer(s)["C1"].id
    assert msg["Message-ID"] == f"<{by_customer(s)['C1'].id}@acme.example>"
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "发票 I2" in text and "已逾期 28 天" in text and "滞纳金 CNY 280.00" in text and "张伟" in text
    assert "<td>I2</td>" in html and "ICBC 6222 0000 1111" in html
    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1 and attachments[0].get_filename().endswith(".xlsx")
    openpyxl.load_workbook(io.BytesIO(attachments[0].get_content()))  # a real workbook
    raw = next(f for f in s.files if f.name.startswith("C1_")).read_bytes()
    assert raw.isascii()  # RFC 2047 headers, base64/quoted-printable bodies: 7-bit clean


def test_the_dunning_letter_states_amount_days_fee_and_deadline(run):
    _, s = run
    text = read_eml(next(f for f in s.files if f.name.startswith("C2_"))).get_body(("plain",)).get_content()
    assert "FORMAL DEMAND FOR PAYMENT" in text
    assert "Invoice I4 of 1 Dec 2024, due 14 Feb 2025: CNY 5,000.00, 45 days overdue, late fee CNY 112.50" in text
    assert "Overdue amount CNY 5,000.00, late-payment charges to date CNY 112.50" in text
    assert "no later than 7 Apr 2025." in text
    assert "due in 2 days" in text and "due in 6 days" in text  # the pre-due and due-soon items
    assert "Total USD: 1,234.56 open" in text


def test_the_severe_stage_gets_a_lawyers_letter_draft(run):
    _, s = run
    msg = read_eml(next(f for f in s.files if f.name.startswith("C4_")))
    assert msg["Subject"].startswith("[DRAFT for counsel]")
    text = msg.get_body(("plain",)).get_content()
    assert "DRAFT" in text and "181 days overdue" in text and "EUR 271.50" in text


def test_the_sms_list_is_short_digits_only_and_formula_safe(run):
    _, s = run
    raw = s.sms_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel shows the Chinese
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["id", "customer_id", "name", "phone", "text", "segments", "stage", "as_of"]
    (row,) = rows[1:]
    assert row[3] == "8613900000000"
    assert row[2].startswith("'=HYPERLINK")  # neutralised: a spreadsheet shows it as text
    assert "800.00" in row[4] and "2025年4月5日" in row[4] and row[5] == "1"
    for cell in (c for r in rows for c in r):
        assert not cell.startswith(("=", "+", "-", "@"))


def test_the_outbox_sheet_lists_every_message_and_the_rest_of_the_book_is_untouched(run, tmp_path):
    book, s = run
    original = make_book(tmp_path / "original.xlsx")
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[-1] == "Outbox"
    rows = list(wb["Outbox"].iter_rows(values_only=True))
    assert rows[0][:3] == ("Status", "Channel", "CustomerID")
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("draft", "C1"), ("draft", "C2"), ("SMS gateway", "C3"), ("awaiting approval", "C4")]
    assert s.backup is not None and s.backup.exists()
    with zipfile.ZipFile(book) as new, zipfile.ZipFile(original) as old:
        changed = {n for n in old.namelist() if old.read(n) != new.read(n)}
    # docProps carry openpyxl's save time; the rest of the user's parts are byte-identical
    assert changed <= {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/styles.xml",
                       "docProps/core.xml"}


def test_a_second_run_gives_the_same_ids_and_leaves_the_workbook_alone(run):
    book, s = run
    before = digest(book)
    again = build_reminders(book, AS_OF, now=NOW + dt.timedelta(hours=1))
    assert [e.id for e in again.entries] == [e.id for e in s.entries]
    assert digest(book) == before and again.backup is None


def test_a_chinese_workbook_gets_chinese_outbox_and_letters(tmp_path):
    book = make_book(tmp_path / "台账.xlsx", lang="zh")
    s = build_reminders(book, AS_OF, now=NOW)
    assert s.ok
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[-1] == "发件箱"
    assert [c.value for c in wb["发件箱"][1]][:3] == ["状态", "方式", "客户编号"]
    assert wb["发件箱"]["A2"].value == "待发送"
    # an English customer still gets English
    c2 = read_eml(next(f for f in s.files if f.name.startswith("C2_")))
    assert "FORMAL DEMAND" in c2.get_body(("plain",)).get_content()


def test_zh_dunning_letter_催款函(tmp_path):
    customers = [["K1", "北京恒通机电有限公司", "B", "刘会计", "fin@hengtong.example", "", 30, 1.0, "", "zh"]]
    invoices = [["F1", "K1", D(2024, 12, 1), D(2025, 1, 31), 50000.00, "CNY", "", "", "", ""]]
    book = make_book(tmp_path / "l.xlsx", customers=customers, invoices=invoices)
    s = build_reminders(book, AS_OF, now=NOW)
    msg = read_eml(s.files[0])
    assert msg["Subject"] == "催款函 – 北京恒通机电有限公司"
    text = msg.get_body(("plain",)).get_content()
    assert "催 款 函" in text and "已逾期 59 天" in text and "逾期金额 CNY 50,000.00" in text
    assert "截至本函日期的滞纳金 CNY 1,475.00" in text and "请于2025年4月7日（含当日）前" in text
    assert "合计 CNY 51,475.00（大写：人民币伍万壹仟肆佰柒拾伍元整）" in text


def test_nothing_is_written_without_a_sender_address(tmp_path):
    book = make_book(tmp_path / "l.xlsx", settings=[("CompanyName", "Acme")])
    before = digest(book)
    s = build_reminders(book, AS_OF, now=NOW)
    assert not s.ok and any("SenderEmail" in i.message for i in s.issues)
    assert digest(book) == before and not s.files
    assert not (tmp_path / "l-reminders-2025-03-31").exists()


def test_a_password_on_the_settings_sheet_is_ignored_with_a_warning():
    docs, issues = parse_docs_settings({"SmtpPassword": ("hunter2", "Settings!B20"), "SmtpUser": ("me", "Settings!B19"),
                                        "邮箱密码": ("x", "Settings!B21")})
    assert [i.where for i in issues] == ["Settings!B20", "Settings!B21"]
    assert all(i.severity == "warning" and "never read from a workbook" in i.message for i in issues)
    assert "hunter2" not in repr(docs)


def test_settings_defaults_and_chinese_keys():
    assert [k for k, *_ in DOCS_SETTING_DEFAULTS][:3] == ["CompanyName", "CompanyNameZh", "CompanyPhone"]
    docs, issues = parse_docs_settings({"发件邮箱": ("ar@x.example", "设置!B9"), "SmtpSecurity": ("SSL", "设置!B10"),
                                        "ReminderDaysAhead": ("ten", "设置!B11")})
    assert docs.sender_email == "ar@x.example" and docs.smtp_security == "ssl" and docs.smtp_port == 465
    assert docs.days_ahead == 7 and issues[0].where == "设置!B11"


def test_activities_promise_holds_the_item(tmp_path):
    acts = [[D(2025, 3, 20), "C1", "I2", "phone", "张伟", "will pay", D(2025, 4, 10), 20000.0, ""]]
    book = make_book(tmp_path / "l.xlsx", activities=acts)
    s = build_reminders(book, AS_OF, now=NOW)
    assert "C1" not in by_customer(s)  # a promise still running: not dunned meanwhile


def test_the_open_items_attachment_keeps_text_as_text(tmp_path):
    from xl_ar.book.filebook import FileBook
    from xl_ar.app.refresh import load
    from xl_ar.core.run import refresh

    invoices = [["=1+1", "C1", D(2025, 1, 1), D(2025, 2, 1), 100.0, "CNY", "", "", "", ""]]
    book = make_book(tmp_path / "l.xlsx", invoices=invoices)
    ledger, settings, policies, issues = load(FileBook(book).read(), AS_OF, AS_OF)
    result = refresh(ledger, settings, AS_OF, policies)
    a = open_items_attachment(ledger, result, "C1", AS_OF, "en")
    ws = openpyxl.load_workbook(io.BytesIO(a.content)).active
    assert ws["A3"].value == "=1+1" and ws["A3"].data_type == "s"
    assert ws["F3"].value == 100.0


def test_the_cli_writes_the_drafts_and_reports_json(tmp_path, capsys):
    import json

    book = make_book(tmp_path / "l.xlsx")
    out = tmp_path / "drafts"
    assert docs_main(["reminders", str(book), "--as-of", "2025-03-31", "--out", str(out), "--json",
                      "--attach", "none"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["emails"] == 2 and got["awaiting_approval"] == 1 and got["sms"] == 1 and got["sms_csv"].endswith("sms.csv")
    assert sorted(p.name.split("_")[0] for p in out.glob("*.eml")) == ["C1", "C2", "C4"]
    # no statement attached: only the dunning letter's own PDF (C2 is at the dunning stage)
    attached = {p.name.split("_")[0]: [a.get_filename() for a in read_eml(p).iter_attachments()]
                for p in out.glob("*.eml")}
    assert attached == {"C1": [], "C2": ["demand-for-payment_C2_2025-03-31.pdf"], "C4": []}


def test_a_workbook_open_in_excel_is_not_written(tmp_path, capsys):
    book = make_book(tmp_path / "l.xlsx")
    (tmp_path / "~$l.xlsx").write_bytes(b"owner")
    assert docs_main(["reminders", str(book), "--as-of", "2025-03-31"]) == 2
    assert "open in Excel" in capsys.readouterr().out


def test_the_ribbon_runs_it_on_the_open_book(tmp_path):
    from fakexl import Book
    from xl_ar.book.livebook import LiveBook

    path = make_book(tmp_path / "l.xlsx")
    xl = Book.from_file(path)
    s = build_reminders(LiveBook(xl), AS_OF, tmp_path / "out", now=NOW, attach=None)
    assert s.ok and s.outbox_sheet == "Outbox" and len(s.files) == 3
    sheet = xl.sheets["Outbox"]
    assert sheet.range("A1").value == "Status" and sheet.range("C2").value == "C1"
    assert "催款提醒" in str(s)


def test_the_signature_names_the_company_once_when_no_one_signs(tmp_path):
    # No SenderName and no owner: the letter is signed by the company alone, not "X X".
    customers = [["K1", "北京恒通机电有限公司", "B", "刘会计", "fin@hengtong.example", "", 30, 1.0, "", "zh"],
                 ["K2", "Severe Ltd", "B", "", "ap@severe.example", "", 30, 1.0, "", "en"]]
    invoices = [["F1", "K1", D(2025, 2, 1), D(2025, 3, 3), 5000.00, "CNY", "", "", "", ""],
                ["F2", "K2", D(2024, 9, 1), D(2024, 10, 1), 5000.00, "CNY", "", "", "", ""]]
    settings = [("CompanyName", "Audit Test Co."), ("CompanyNameZh", "审计测试有限公司"), ("SenderEmail", "ar@t.example")]
    book = make_book(tmp_path / "l.xlsx", customers=customers, invoices=invoices, settings=settings)
    s = build_reminders(book, AS_OF, now=NOW)
    for f in s.files:
        if f.suffix != ".eml":
            continue
        msg = read_eml(f)
        company = "审计测试有限公司" if f.name.startswith("K1_") else "Audit Test Co."
        for part in ("plain", "html"):
            body = msg.get_body((part,)).get_content()
            text = re.sub(r"<[^>]+>", " ", body)  # the HTML's <br> between the lines
            assert company in text and not re.search(rf"{re.escape(company)}[\s,，]*{re.escape(company)}", text), \
                (f.name, part)
    with_owner = [["K1", "北京恒通机电有限公司", "B", "刘会计", "fin@hengtong.example", "", 30, 1.0, "张伟", "zh"]]
    book = make_book(tmp_path / "o.xlsx", customers=with_owner, invoices=invoices[:1], settings=settings)
    text = read_eml(build_reminders(book, AS_OF, now=NOW).files[0]).get_body(("plain",)).get_content()
    assert "张伟\r\n审计测试有限公司" in text  # a person signs above the company


def test_the_payment_deadline_skips_the_national_day_week(tmp_path):
    customers = [["K1", "北京恒通机电有限公司", "B", "刘会计", "fin@hengtong.example", "", 30, 1.0, "", "zh"]]
    invoices = [["F1", "K1", D(2026, 6, 1), D(2026, 7, 31), 50000.00, "CNY", "", "", "", ""]]
    book = make_book(tmp_path / "l.xlsx", customers=customers, invoices=invoices,
                     settings=[*SETTINGS, ("Calendar", "CN")])
    # 2026-09-28 + 7 days is 5 October, in the National Day holiday: the deadline is 8 October
    s = build_reminders(book, D(2026, 9, 28), now=NOW)
    text = read_eml(s.files[0]).get_body(("plain",)).get_content()
    assert "请于2026年10月8日（含当日）前" in text and "天内" not in text
