"""What the template's README sheet, the ribbon's tips and its Help say is true of the template
and of a book after a refresh: every button it names exists (the list comes from
``macros/customUI14.xml``, so a new button is checked too), every sheet it names exists, the
header colour it names is the colour written, and every Dashboard item a tip promises is on the
Dashboard."""

from __future__ import annotations

import colorsys
import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from test_refresh import write_ledger
from xl_ar import ribbon
from xl_ar.app.plans import append_ledger_rows
from xl_ar.book.headers import INVOICE_OUTPUTS, SHEET_ALIASES, sheet_label
from xl_ar.cli import main
from xl_ar.documents.outbox import OUTBOX_SHEETS
from xl_ar.template.build import README_SHEET, build_template, ribbon_buttons

D = dt.date


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("claims") / "AR_Template.xlsm")


@pytest.fixture(scope="module")
def used(template, tmp_path_factory) -> Path:
    """A copy of the template with a customer and two invoices, refreshed, reminders drafted."""
    book = tmp_path_factory.mktemp("used") / "台账.xlsm"
    shutil.copy(template, book)
    append_ledger_rows(book, "Customers", [{"customer_id": "C1", "name": "上海华信贸易有限公司", "class": "A",
                                            "email": "ap@huaxin.example", "language": "zh"}])
    append_ledger_rows(book, "Invoices", [
        {"invoice_no": "I1", "customer_id": "C1", "invoice_date": D(2025, 1, 1), "due_date": D(2025, 1, 31),
         "amount": Decimal("10000"), "currency": "CNY"},
        {"invoice_no": "I2", "customer_id": "C1", "invoice_date": D(2025, 3, 1), "due_date": D(2025, 4, 5),
         "amount": Decimal("2000"), "currency": "CNY"}])
    wb = openpyxl.load_workbook(book, keep_vba=True)
    settings = wb[sheet_label("Settings", "zh")]
    for row in settings.iter_rows(min_row=2):
        if row[0].value == "SenderEmail":
            row[1].value = "ar@example.com"
    wb.save(book)
    assert main(["refresh", str(book), "--as-of", "2025-03-31"]) == 0
    assert main(["reminders", str(book), "--as-of", "2025-03-31", "--out", str(book.parent / "out")]) == 0
    return book


def _texts(template: Path) -> dict[str, str]:
    """What a user reads about the template: the README sheet, the Help box, the ribbon tips."""
    ws = openpyxl.load_workbook(template)[README_SHEET]
    readme = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    tips = "\n".join(f"{b.label}\n{b.supertip}" for b in ribbon_buttons())
    return {"README sheet": readme, "Help": ribbon.HELP_TEXT, "ribbon tips": tips}


def test_every_ribbon_button_is_explained_and_handled(template):
    texts = _texts(template)
    buttons = ribbon_buttons()
    assert buttons  # read from macros/customUI14.xml
    readme_rows = [r[0] for r in openpyxl.load_workbook(template)[README_SHEET].iter_rows(values_only=True)]
    for b in buttons:
        zh, _, en = b.label.partition(" ")
        assert b.id in ribbon.HANDLERS, f"button {b.id} has no handler"
        assert b.label in readme_rows, f"the README sheet does not list the button {b.label}"
        if b.id != "help":  # the Help box itself
            assert zh in texts["Help"] and en in texts["Help"], f"Help does not explain the button {b.label}"
        assert "\n" in b.supertip, f"the tip of {b.label} is not Chinese, a new line, English"


def _sheet_mentions(text: str) -> set[str]:
    """The canonical sheets a text names, by English name or by the Chinese name a new book gets."""
    names = {**{s: (s, al[0]) for s, al in SHEET_ALIASES.items()}, "Outbox": OUTBOX_SHEETS}
    found = set()
    for canon, (en, zh) in names.items():
        if re.search(rf"\b{en}\b", text) or re.search(rf"「{zh}」|{zh}表|[(（]{zh}[)）]", text):
            found.add(canon)
    return found


def test_every_sheet_named_exists_in_the_template_or_after_its_runs(template, used):
    before = set(openpyxl.load_workbook(template).sheetnames)
    after = set(openpyxl.load_workbook(used).sheetnames)
    assert before <= after
    for where, text in _texts(template).items():
        for canon in _sheet_mentions(text):
            names = {canon, *SHEET_ALIASES.get(canon, ()), *(OUTBOX_SHEETS if canon == "Outbox" else ())}
            assert names & after, f"the {where} names the {canon} sheet, which no run writes"
    assert {"Invoices", "Settings", "Aging", "Dashboard"} <= _sheet_mentions("\n".join(_texts(template).values()))


def _describes(rgb: str) -> set[str]:
    """Colour words that fit an RGB fill ("DDEBF7" is pale blue)."""
    r, g, b = (int(rgb[-6:][i:i + 2], 16) / 255 for i in (0, 2, 4))
    hue, light, _ = colorsys.rgb_to_hls(r, g, b)
    words = set()
    if 0.5 <= hue <= 0.72:
        words |= {"blue", "蓝"}
        if light >= 0.8:
            words |= {"pale-blue", "浅蓝", "light blue"}
    if 0.2 <= hue < 0.45:
        words |= {"green", "绿"}
    return words


COLOUR_WORDS = ("pale-blue", "light blue", "浅蓝", "blue", "蓝", "green", "绿")


def test_the_header_colour_named_is_the_colour_written(template, used):
    fills = set()
    for book in (template, used):
        ws = openpyxl.load_workbook(book)[sheet_label("Invoices", "zh")]
        heads = [c.value for c in ws[1]]
        for _, zh in INVOICE_OUTPUTS.values():
            fills.add(ws.cell(row=1, column=heads.index(zh) + 1).fill.fgColor.rgb[-6:])  # alpha aside
    assert len(fills) == 1, f"the template's computed headers and a refreshed book's differ: {fills}"
    (fill,) = fills
    named = 0
    for where, text in _texts(template).items():
        for word in COLOUR_WORDS:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])" if word.isascii() else re.escape(word), text):
                named += 1
                assert word in _describes(fill), f'the {where} says "{word}" headers; they are #{fill[-6:]}'
    assert named  # the README sheet and Help do name the colour


def _dashboard_text(book: Path) -> str:
    wb = openpyxl.load_workbook(book)
    ws = wb["仪表板"] if "仪表板" in wb.sheetnames else wb["Dashboard"]
    return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)


def test_every_dashboard_item_the_tip_promises_is_on_the_dashboard(used, tmp_path, capsys):
    (tip,) = [b.supertip for b in ribbon_buttons() if b.id == "dashboard"]
    zh, en = tip.split("\n")
    english = write_ledger(tmp_path / "ledger.xlsx", lang="en")
    assert main(["refresh", str(english), "--as-of", "2025-03-31"]) == 0
    for text, book in ((zh, used), (en, english)):
        items = re.split(r"、|，|, | and |和", re.split(r"[:：]", text, maxsplit=1)[1].rstrip("。."))
        shown = _dashboard_text(book).lower()
        for item in items:
            assert item.strip().lower() in shown, f'the Dashboard tip promises "{item}"'


def test_help_claims_no_part_needs_installing_that_ships_with_the_package():
    import xl_ar.documents  # noqa: F401 - the documents ship with the package

    assert not re.search(r"需安装|when the .* is installed", ribbon.HELP_TEXT)
