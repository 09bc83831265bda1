"""Templates: shipped in both languages, overridable, checked against the known fields, sandboxed."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from xl_ar.documents import DocsSettings
from xl_ar.app.reminders import build_reminders
from xl_ar.documents.reminders import Reminder, ReminderItem, reminder_context
from xl_ar.documents.templates import (CONTEXT_FIELDS, KINDS, LANGS, PARTS, ListOf, TemplateError, load_templates,
                                  template_name)

from test_reminders import AS_OF, NOW, make_book

ITEMS = (
    ReminderItem("I4", dt.date(2024, 12, 1), dt.date(2025, 2, 14), "CNY", 2, 500000, 500000, 11250, 45, -45,
                 "moderate", "Moderate", "中度"),
    ReminderItem("I6", dt.date(2025, 3, 20), dt.date(2025, 4, 2), "JPY", 0, 123456, 123456, 0, 0, 2,
                 "pre_due", "Reminder", "到期前提醒"),
)


def reminder(lang="en", stage="moderate", kind="dunning", channel="email", name="Harbor <Logistics> & Co",
             contact="Ms. Lee"):
    return Reminder("xlar-00000000000000000000", "C2", name, contact, "B", 3, ("ap@harbor.example",), "",
                    lang, channel, stage, kind, "Tom Chen", ITEMS)


DOCS = DocsSettings(company_name="Acme", company_name_zh="艾克美", sender_email="ar@acme.example", deadline_days=10)


def context(**kw):
    return reminder_context(reminder(**kw), DOCS, AS_OF)


def test_every_letter_and_sms_is_shipped_in_both_languages_and_checks_clean():
    t = load_templates()
    for kind in KINDS:
        for lang in LANGS:
            for part in PARTS:
                assert t.has(template_name(kind, lang, part)), template_name(kind, lang, part)
    for lang in LANGS:
        assert t.has(template_name("sms", lang, "text"))
    assert t.check() == []


def test_templates_checked_are_rendered_without_compiling_them_again(monkeypatch):
    t = load_templates()
    assert t.check() == []
    compiled = []
    compile_ = t.env.compile
    monkeypatch.setattr(t.env, "compile", lambda *a, **k: compiled.append(a[1]) or compile_(*a, **k))
    for kind in KINDS:
        assert "武汉" in t.render(template_name(kind, "zh", "text"), context(lang="zh", kind=kind, name="武汉恒通"))
    assert compiled == []


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS + ("sms",))
def test_every_shipped_template_renders(kind, lang):
    t = load_templates()
    parts = ("text",) if kind == "sms" else PARTS
    for part in parts:
        out = t.render(template_name(kind, lang, part), context(lang=lang, kind=kind))
        assert out.strip()
        if part == "subject":
            assert "\n" not in out.strip()
    text = t.render(template_name(kind, lang, "text"), context(lang=lang, kind=kind))
    assert ("123,456" if kind != "sms" else "5,000.00") in text  # yen have no decimals


def test_the_context_has_exactly_the_known_fields():
    ctx = reminder_context(reminder(), DOCS, AS_OF, evidence=[("Contract number", "MISSING", "", "I1", True)])
    assert set(ctx) == set(CONTEXT_FIELDS)
    for key, spec in CONTEXT_FIELDS.items():
        if isinstance(spec, dict):
            assert set(ctx[key]) == set(spec), key
        elif isinstance(spec, ListOf):
            assert ctx[key], key
            assert all(set(x) == set(spec.item) for x in ctx[key]), key
    assert ctx["deadline"] == "10 Apr 2025" and ctx["totals"][0]["late_fee"] == "112.50"
    assert ctx["totals"][1] == {"currency": "JPY", "open": "123,456", "overdue": "0", "late_fee": "0",
                                "due_soon": "123,456", "total_due": "0", "items": 1, "has_overdue": False,
                                "has_late_fee": False, "total_due_words": "", "interest": "0",
                                "compensation": "0", "has_compensation": False}


def test_an_unknown_field_is_an_error_naming_template_and_line(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "dunning.en.text.j2").write_text(
        "Dear {{ customer.name }},\n{% if stage == 'never' %}\n  {{ customer.nmae }}\n{% endif %}\n"
        "{% for item in items %}{{ item.invoice_no }} {{ item.amout }}{% endfor %}\n{{ totla }}\n", encoding="utf-8")
    t = load_templates(tmp_path)
    problems = t.check()
    assert [(p.template, p.line, p.problem) for p in problems] == [
        ("dunning.en.text.j2", 3, 'unknown field "customer.nmae"'),  # found in a branch never taken
        ("dunning.en.text.j2", 5, 'unknown field "item.amout"'),
        ("dunning.en.text.j2", 6, 'unknown field "totla"'),
    ]
    assert problems[0].origin == str(folder / "dunning.en.text.j2")
    assert str(problems[0]).startswith("template dunning.en.text.j2 (")
    assert ", line 3: unknown field" in str(problems[0])


def test_local_names_loops_macros_and_filters_are_known():
    t = load_templates(sheet=[("reminder.en.text", "\n".join([
        "{% set n = items|length %}{{ n }}",
        "{% macro line(x) %}{{ x.invoice_no }}{% endmacro %}",
        "{% for item in items|sort(attribute='days_late') %}{{ loop.index }} {{ line(item) }}{% endfor %}",
        "{% for t in totals if t.has_overdue %}{{ t.overdue }}{% endfor %}",
        "{{ items[0].due_date }} {{ customer['name']|upper }} {{ items[:1]|length }}",
        "{% with c = customer %}{{ c.contact }}{% endwith %}",
        "{{ items[0].nope }}",
    ]), "Templates!B2")])
    problems = t.check(["reminder.en.text.j2"])
    assert [(p.line, p.problem, p.origin) for p in problems] == [(7, 'unknown field "items[0].nope"', "Templates!B2")]


def test_syntax_errors_unknown_filters_and_missing_includes_name_the_line():
    t = load_templates(sheet=[
        ("a.en.text", "line one\n{% if %}", "Templates!B2"),
        ("b.en.text", "x\ny\n{{ customer.name|shout }}", "Templates!B3"),
        ("c.en.text", "{% include 'nowhere.j2' %}", "Templates!B4"),
    ])
    got = {p.template: (p.line, p.origin) for p in t.check(["a.en.text.j2", "b.en.text.j2", "c.en.text.j2"])}
    assert got == {"a.en.text.j2": (2, "Templates!B2"), "b.en.text.j2": (3, "Templates!B3"),
                   "c.en.text.j2": (1, "Templates!B4")}


def test_the_sheet_wins_over_the_folder_which_wins_over_ours(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "dunning.en.subject.j2").write_text("folder {{ customer.id }}", encoding="utf-8")
    (tmp_path / "templates" / "overdue.en.subject.j2").write_text("folder overdue", encoding="utf-8")
    t = load_templates(tmp_path, [("dunning.en.subject", "sheet {{ customer.id }}", "Templates!B2")])
    assert t.render("dunning.en.subject.j2", context()) == "sheet C2"
    assert t.render("overdue.en.subject.j2", context()) == "folder overdue"
    assert t.sources["reminder.en.subject.j2"].origin == "shipped"


@pytest.mark.parametrize("source", [
    "{{ customer.name.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch /tmp/xl-ar-pwned') }}",
    "{{ items.append(1) }}",  # the context is read-only
    "{{ customer.update(name='x') }}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 9999 }}",
])
def test_templates_cannot_run_code_or_exhaust_memory(source):
    t = load_templates(sheet=[("evil.en.text", source, "Templates!B9")])
    with pytest.raises(TemplateError) as exc:
        t.render("evil.en.text.j2", context())
    assert exc.value.origin == "Templates!B9" and exc.value.line == 1


def test_a_runtime_error_names_the_included_template_line():
    t = load_templates(sheet=[("outer.en.text", "a\n{% include 'inner.en.text.j2' %}", "Templates!B2"),
                              ("inner.en.text", "x\ny\n{{ 1 // (items|length - 2) }}", "Templates!B3")])
    with pytest.raises(TemplateError) as exc:
        t.render("outer.en.text.j2", context())
    assert (exc.value.template, exc.value.line, exc.value.origin) == ("inner.en.text.j2", 3, "Templates!B3")


def test_html_is_escaped_and_text_is_not():
    t = load_templates()
    ctx = context(contact="<script>alert(1)</script>")
    html = t.render("dunning.en.html.j2", ctx)
    assert "Dear &lt;script&gt;alert(1)&lt;/script&gt;," in html and "<script>" not in html
    assert "Harbor <Logistics> & Co, attn. <script>alert(1)</script>" in t.render("dunning.en.text.j2", ctx)


def test_a_bad_user_template_stops_the_run_before_anything_is_written(tmp_path):
    book = make_book(tmp_path / "ledger.xlsx")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "overdue.zh.text.j2").write_text("您好\n{{ customer.nmae }}\n", encoding="utf-8")
    before = hashlib.sha256(book.read_bytes()).hexdigest()
    s = build_reminders(book, AS_OF, now=NOW)
    assert not s.ok
    (issue,) = [i for i in s.issues if i.severity == "error"]
    assert issue.where.endswith("overdue.zh.text.j2")
    assert "line 2" in issue.message and "customer.nmae" in issue.message
    assert hashlib.sha256(book.read_bytes()).hexdigest() == before
    assert not (tmp_path / "ledger-reminders-2025-03-31").exists()


def test_a_users_own_stage_letter_and_a_templates_sheet_in_the_workbook(tmp_path):
    import openpyxl

    book = make_book(tmp_path / "ledger.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb.create_sheet("Templates")
    ws.append(["Name", "Template"])
    ws.append(["overdue.zh.subject", "请付款：{{ customer.name }}"])
    ws.append(["moderate.en.subject", "Second notice {{ customer.id }}"])
    ws.append(["moderate.en.text", "Pay {{ totals[0].overdue }} by {{ deadline }}."])
    wb.save(book)
    s = build_reminders(book, AS_OF, now=NOW, attach=None)
    assert s.ok, s.issues
    subjects = {e.customer_id: e.subject for e in s.entries}
    assert subjects["C1"] == "请付款：上海华信贸易有限公司"
    assert subjects["C2"] == "Second notice C2"  # the stage "moderate" has its own letter now
    import email
    import email.policy

    msg = email.message_from_bytes(next(f for f in s.files if f.name.startswith("C2_")).read_bytes(),
                                   policy=email.policy.default)
    assert msg.get_body(("plain",)).get_content().strip() == "Pay 5,000.00 by 7 Apr 2025."
    assert msg.get_body(("html",)) is None  # no html template for that stage: text only
