"""The dunning letter (催款函) explains its fee: policy, method, rate, period, legal source and
statutory compensation, the customer's own terms, in the e-mail and in the attached PDF (CJK font
embedded). Cases: cn-sme, uk-late-payment and a contract's daily rate with grace days."""

from __future__ import annotations

import datetime as dt
import subprocess

from test_reminders import NOW, SETTINGS, make_book, read_eml
from xl_ar.app.reminders import build_reminders

D = dt.date
AS_OF = D(2025, 3, 31)


def customer(cid, name, lang, policy="", rate=None, grace=None):
    # id, name, class, contact, email, phone, terms, limit, owner, language, 5 credit inputs, 4 fee terms
    return [cid, name, "B", "", f"ap@{cid.lower()}.example", "", 30, 1.0, "", lang, None, None, "", "", "",
            policy, rate, grace, None]


def letter(tmp_path, cust, invoice, settings=SETTINGS):
    book = make_book(tmp_path / "l.xlsx", customers=[cust], invoices=[invoice], settings=settings)
    s = build_reminders(book, AS_OF, now=NOW, attach=None)
    assert s.ok, s.issues
    msg = read_eml(s.files[0])
    pdfs = [a for a in msg.iter_attachments() if a.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1
    data = pdfs[0].get_content()
    path = tmp_path / pdfs[0].get_filename()
    path.write_bytes(data)
    pdf_text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
    return msg, msg.get_body(("plain",)).get_content().replace("\r\n", "\n"), pdf_text, data, pdfs[0].get_filename()


def flat(text: str) -> str:
    """Text with its line breaks and runs of spaces gone (a PDF wraps long lines)."""
    return "".join(text.split())


CN_SME = """滞纳金计算说明：
计算依据：《保障中小企业款项支付条例》（国务院令第728号）第十五条。
计算方法：按日计收逾期利息（单利），日利率0.05%（万分之五）。
计息期间：自各发票逾期之日（到期日后次日，最早为2025年2月1日）起至2025年3月31日止，并将继续计算至实际付款之日。
"""


def test_cn_sme_states_the_regulation_and_its_article(tmp_path):
    msg, text, pdf, data, name = letter(
        tmp_path, customer("K1", "北京恒通机电有限公司", "zh", "cn-sme"),
        ["F1", "K1", D(2024, 12, 1), D(2025, 1, 31), 50000.00, "CNY", "HT-7", "", "", ""])
    assert name == "催款函_K1_2025-03-31.pdf"
    assert CN_SME in text
    assert "逾期金额 CNY 50,000.00，截至本函日期的滞纳金 CNY 1,475.00，合计 CNY 51,475.00（大写：人民币伍万壹仟肆佰柒拾伍元整）。" in text
    assert "请于2025年4月7日（含当日）前付清上述逾期款项及滞纳金" in text
    assert "按合同约定" not in text
    for line in CN_SME.splitlines()[1:] + ["人民币伍万壹仟肆佰柒拾伍元整", "请于2025年4月7日（含当日）前付清", "F1"]:
        assert flat(line) in flat(pdf), line
    # every font is embedded (a subset): poppler's pdffonts says "yes" in the emb and sub columns
    fonts = subprocess.run(["pdffonts", str(tmp_path / name)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5:-3] == ["yes", "yes"] for line in fonts), fonts


UK = """How the late-payment charges are calculated:
Legal basis: Late Payment of Commercial Debts (Interest) Act 1998, s.4 (statutory interest) and s.5A (fixed compensation).
Method: simple interest, 1/365 of the annual rate per day, on the overdue balance, 12.75% a year (Bank of England Bank Rate 4.75% plus 8 percentage points).
Period: from each invoice's first day of interest (the day after its due date; the earliest is 15 Feb 2025) to 31 Mar 2025, and continuing until the day of payment.
Compensation: statutory fixed compensation GBP 70.00 (per invoice, GBP 40 for a debt under GBP 1,000, GBP 70 from GBP 1,000 to under GBP 10,000, GBP 100 from GBP 10,000).
"""


def test_uk_late_payment_states_the_act_the_rate_and_the_compensation(tmp_path):
    msg, text, pdf, _, name = letter(
        tmp_path, customer("UK1", "Harbor Logistics Ltd", "en", "uk-late-payment"),
        ["G1", "UK1", D(2025, 1, 15), D(2025, 2, 14), 5000.00, "GBP", "", "", "", ""])
    assert name == "demand-for-payment_UK1_2025-03-31.pdf"
    # 5,000.00 x 12.75% x 45 / 365 = 78.60 interest, plus GBP 70 (s.5A band 1,000 to under 10,000)
    assert ("Overdue amount GBP 5,000.00, late-payment charges to date GBP 148.60 "
            "(interest GBP 78.60, statutory compensation GBP 70.00).") in text
    assert UK in text
    assert "no later than 7 Apr 2025." in text
    for line in UK.splitlines() + ["GBP 148.60", "7 Apr 2025"]:
        assert flat(line) in flat(pdf), line


CONTRACT = """滞纳金计算说明：
计算依据：按合同约定。
计算方法：按日计收逾期利息（单利），日利率0.03%（万分之三）。
计息期间：自各发票逾期之日（到期日及5天宽限期后次日，最早为2025年2月20日）起至2025年3月31日止，并将继续计算至实际付款之日。
"""


def test_a_contract_daily_rate_is_the_customers_own_and_per_contract(tmp_path):
    # the workbook says cn-sme; this customer's row says daily 0.03% with 5 days' grace
    msg, text, pdf, _, _ = letter(
        tmp_path, customer("K2", "上海华信贸易有限公司", "zh", "daily", 0.0003, 5),
        ["F2", "K2", D(2024, 12, 1), D(2025, 2, 14), 20000.00, "CNY", "", "", "", ""],
        settings=[*SETTINGS, ("LateFeePolicy", "cn-sme")])
    # 20,000.00 x 0.03% x 40 days (20 February to 31 March) = 240.00
    assert "逾期金额 CNY 20,000.00，截至本函日期的滞纳金 CNY 240.00，合计 CNY 20,240.00（大写：人民币贰万零贰佰肆拾元整）。" in text
    assert CONTRACT in text
    assert "保障中小企业" not in text
    for line in CONTRACT.splitlines():
        assert flat(line) in flat(pdf), line


def test_the_letters_of_a_run_share_one_font_cut_and_read_as_a_letter_alone(tmp_path, monkeypatch):
    from xl_ar.documents import fonts, letterpdf

    cuts = []
    real = fonts._cut_font
    monkeypatch.setattr(fonts, "_cut_font", lambda face, chars, out, **kw: cuts.append(len(chars)) or real(face, chars, out, **kw))
    book = make_book(tmp_path / "l.xlsx", customers=[customer("K1", "北京恒通机电有限公司", "zh", "cn-sme"),
                                                     customer("UK1", "Harbor Logistics Ltd", "en", "uk-late-payment"),
                                                     customer("K3", "广州粤秀贸易有限公司", "zh", "cn-sme")],
                     invoices=[["F1", "K1", D(2024, 12, 1), D(2025, 1, 31), 50000.00, "CNY", "", "", "", ""],
                               ["G1", "UK1", D(2025, 1, 15), D(2025, 2, 14), 5000.00, "GBP", "", "", "", ""],
                               ["F3", "K3", D(2024, 12, 1), D(2025, 1, 31), 12345.67, "CNY", "", "", "", ""]])
    s = build_reminders(book, AS_OF, now=NOW, attach=None)
    assert s.ok, s.issues
    assert len(cuts) == 2  # regular and bold, once for the three letters
    headings = set()
    for eml in s.files:
        msg = read_eml(eml)
        [att] = [a for a in msg.iter_attachments() if a.get_content_type() == "application/pdf"]
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        headings |= set(letterpdf.letter_heading(text))
        title = f"{'催款函' if '催款函' in att.get_filename() else 'Formal demand for payment'} {msg['X-XL-AR-Customer']}"
        alone = letterpdf.render_letter_pdf(text, title=title, author="", date=AS_OF, footer=msg["Message-ID"] or "")
        pages = []
        for name, data in (("batch", att.get_content()), ("alone", alone)):
            (tmp_path / f"{name}.pdf").write_bytes(data)
            pages.append(subprocess.run(["pdftotext", "-layout", str(tmp_path / f"{name}.pdf"), "-"],
                                        capture_output=True, text=True, check=True).stdout)
        # each customer's own fee terms, looked up for the whole run at once
        fee = {"K1": "滞纳金 CNY 1,475.00", "UK1": "(interest GBP 78.60, statutory compensation GBP 70.00)",
               "K3": "《保障中小企业款项支付条例》"}[msg["X-XL-AR-Customer"]]
        assert fee in text
        # every line of the letter drawn from the shared cut as from a font cut for it alone
        assert pages[0].count("\f") == pages[1].count("\f")
        for line in filter(str.strip, text.splitlines()):
            assert flat(line) in flat(pages[0]) and flat(line) in flat(pages[1]), line
    assert len(cuts) == 2 + 2 * len(s.files)  # each letter alone cut its own
    # the bold face is drawn only in the headings: the run's bold cut holds just their characters
    assert cuts[1] == len(headings) and cuts[1] < cuts[0] // 5


def test_pdf_statements_and_letters_of_a_run_share_one_font_cut(tmp_path, monkeypatch):
    from xl_ar.documents import fonts, pdf as pdf_mod

    cuts = []
    real = fonts._cut_font
    monkeypatch.setattr(fonts, "_cut_font", lambda face, chars, out, **kw: cuts.append(len(chars)) or real(face, chars, out, **kw))
    drawn_from = []
    render = pdf_mod._render_pages
    monkeypatch.setattr(pdf_mod, "_render_pages",
                        lambda st, lang, fonts, strict=False: drawn_from.append(fonts[0][0]) or render(st, lang, fonts, strict))
    book = make_book(tmp_path / "l.xlsx", customers=[customer("K1", "北京恒通机电有限公司", "zh", "cn-sme"),
                                                     customer("UK1", "Harbor Logistics Ltd", "en", "uk-late-payment")],
                     invoices=[["F1", "K1", D(2024, 12, 1), D(2025, 1, 31), 50000.00, "CNY", "", "", "", ""],
                               ["G1", "UK1", D(2025, 1, 15), D(2025, 2, 14), 5000.00, "GBP", "", "", "", ""]])
    s = build_reminders(book, AS_OF, now=NOW, attach_format="pdf")
    assert s.ok, s.issues
    assert len(cuts) == 2  # regular and bold, once for both statements and both letters
    whole = fonts.find_cjk_font()[0][0]
    assert len(drawn_from) == 2 and whole not in drawn_from  # each statement drawn from the cut, none from the whole font
    seen = {}
    for eml in s.files:
        msg = read_eml(eml)
        pdfs = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
        assert sorted(n.split("_")[0] for n in pdfs) in (["ST-K1-20250301-20250331.pdf", "催款函"],
                                                         ["ST-UK1-20250301-20250331.pdf", "demand-for-payment"])
        statement = next(d for n, d in pdfs.items() if n.startswith("ST-"))
        (tmp_path / "st.pdf").write_bytes(statement)
        seen[msg["X-XL-AR-Customer"]] = subprocess.run(["pdftotext", "-layout", str(tmp_path / "st.pdf"), "-"],
                                                       capture_output=True, text=True, check=True).stdout
    assert "50,000.00" in seen["K1"] and "人民币伍万元整" in seen["K1"]
    assert "5,000.00" in seen["UK1"] and "Harbor Logistics Ltd" in seen["UK1"]


def test_a_batchs_letters_measured_once_are_the_letters_measured_afresh():
    from xl_ar.documents.fonts import BatchFonts
    from xl_ar.documents.letterpdf import letter_chars, letter_heading, render_letter_pdf

    letters = ["催款函\n\n北京恒通机电有限公司：\n贵司尚欠货款人民币伍万元整（¥50,000.00），请于十日内付清。" * 3,
               "Formal demand for payment\n\nHarbor Logistics Ltd: please pay GBP 5,000.00 within 7 days. " * 4,
               "催款函\n\n广州粤秀贸易有限公司：\n请于收到本函之日起七日内支付逾期款项，否则我司将依法追讨。"]
    args = [dict(title=f"L{k}", author="应收组", date=AS_OF, footer=f"xlar-{k}") for k in range(len(letters))]
    with BatchFonts(extra=[letter_chars(t, a["title"], a["footer"]) for t, a in zip(letters, args)],
                    bold_extra=[letter_heading(t) for t in letters]) as batch:
        shared = [render_letter_pdf(t, batch=batch, **a) for t, a in zip(letters, args)]
        assert batch.widths and all(len(w) > 20 for w in batch.widths.values())  # measured once, kept
        afresh = []
        for t, a in zip(letters, args):
            batch.widths.clear()
            afresh.append(render_letter_pdf(t, batch=batch, **a))
    assert shared == afresh
