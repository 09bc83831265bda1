"""Templates cannot exhaust memory or CPU: every attack stops fast, naming the template's cell.

Each attack renders in its own child process, which reports its CPU time and peak memory
(``VmHWM``): the bounds are generous (an interpreter with Jinja2 takes ~40 MB) and far from
what the attacks took unguarded (6.5 GB after 120 s for nested loops, a MemoryError for
doubling text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from xl_ar.documents.sandbox import MAX_STEPS
from xl_ar.documents.templates import TemplateError, load_templates

MAX_CPU_S = 10
MAX_RSS_MB = 200

ATTACKS = {
    "nested-range": "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    "nested-range-silent": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "join-doubling": "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(60) %}"
                     "{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}{{ ns.s }}",
    "concat-doubling": "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "plus-doubling": "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "list-doubling": "{% set ns = namespace(s=[1]) %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "center": "{{ 'x'|center(1000000000) }}",
    "ljust": "{{ 'x'.ljust(1000000000) }}",
    "format-width": "{{ '%1000000000s'|format('x') }}",
    "str-format-width": "{{ '{:>1000000000}'.format('x') }}",
    "percent-width": "{{ '%1000000000s' % 'x' }}",
    "replace-empty": "{% set s = 'x' * 100000 %}{{ s.replace('', s) }}",
    "replace-filter": "{% set s = 'x' * 100000 %}{{ s|replace('', s) }}",
    "join-separator": "{{ range(100000)|join('x' * 100000) }}",
    "indent-string": "{% set s = 'a\n' * 100000 %}{{ s|indent('x' * 100000) }}",
    "wordwrap-string": "{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 100000) }}",
    "tojson-indent": "{{ range(100000)|list|tojson(indent=10000) }}",
    "macro-recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "macro-fan-out": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "recursive-loop": "{% for x in range(100000) recursive %}{{ loop(range(100000)) }}{% endfor %}",
    "self-include": "{% include 'evil.en.text.j2' %}",
    "output-growth": "{% for a in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
    "many-big-values": "{% for i in range(100000) %}{% set s = 'x' * 999999 %}{% endfor %}",
}

_CHILD = """
import json, sys
from xl_ar.documents.templates import TemplateError, load_templates
t = load_templates(sheet=[("evil.en.text", sys.argv[1], "Templates!B9")])
try:
    t.render("evil.en.text.j2", {})
    result = {"rendered": True}
except TemplateError as exc:
    result = {"rendered": False, "origin": exc.origin, "message": str(exc)}
result["peak_kb"] = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
print(json.dumps(result))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory is read from /proc")
@pytest.mark.parametrize("source", ATTACKS.values(), ids=list(ATTACKS))
def test_each_attack_is_refused_in_bounded_time_and_memory(source):
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, source], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the kernel's account of the child's CPU
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["rendered"] is False
    assert result["origin"] == "Templates!B9" and "evil.en.text.j2 (Templates!B9)" in result["message"]
    assert "Traceback" not in err
    assert result["peak_kb"] / 1024 < MAX_RSS_MB
    assert usage.ru_utime + usage.ru_stime < MAX_CPU_S


@pytest.mark.parametrize("source, expected", [
    ("{% for i in range(1000) %}{% for j in range(100) %}{% endfor %}{% endfor %}ok", "ok"),
    ("{{ 'x' * 10 }}|{{ 'ab' ~ 'cd' }}|{{ [1, 2] + [3] }}|{{ '%05.1f' % 3.14159 }}", "xxxxxxxxxx|abcd|[1, 2, 3]|003.1"),
    ("{{ ['a', 'b']|join(', ') }}|{{ 'a-b'|replace('-', '+') }}|{{ 'x'|center(5) }}|", "a, b|a+b|  x  |"),
    ("{% macro row(n) %}<{{ n }}>{% endmacro %}{% for n in range(3) %}{{ row(n) }}{% endfor %}", "<0><1><2>"),
    ("{{ '{:>6}'.format('ab') }}|{{ 'ab'.ljust(4) }}|{{ 'a b'.split()|length }}", "    ab|ab  |2"),
])
def test_ordinary_templates_render_as_before(source, expected):
    t = load_templates(sheet=[("mine.en.text", source, "Templates!B2")])
    assert t.render("mine.en.text.j2", {}) == expected


def test_the_budget_is_per_rendering_not_per_template_set():
    turns = MAX_STEPS // 4 // 100_000  # range items and loop turns: half the budget
    loop = "{% for a in range(" + str(turns) + ") %}{% for i in range(100000) %}{% endfor %}{% endfor %}done"
    t = load_templates(sheet=[("mine.en.text", loop, "Templates!B2")])
    for _ in range(5):  # five renderings of half the budget each (range + loop turns): all fine
        assert t.render("mine.en.text.j2", {}) == "done"


def test_html_concatenation_is_still_escaped():
    t = load_templates(sheet=[("mine.en.html", "{{ '<b>' ~ customer.name }}", "Templates!B2")])
    assert t.render("mine.en.html.j2", {"customer": {"name": "<i>"}}) == "&lt;b&gt;&lt;i&gt;"


def test_a_refused_template_names_its_cell_and_line():
    t = load_templates(sheet=[("mine.en.text", "a\nb\n{{ 'x'|center(10**9) }}", "模板!B7")])
    with pytest.raises(TemplateError) as exc:
        t.render("mine.en.text.j2", {})
    assert (exc.value.origin, exc.value.line) == ("模板!B7", 3)
    assert "center" in exc.value.problem


def test_a_dotted_name_is_the_context_key_even_where_a_dict_has_a_method_of_that_name():
    # The template check reads ``t.items`` as the key "items" of a context dict; rendering agrees.
    source = "{% for t in totals %}{{ t.items }} {{ t.currency }};{% endfor %}{{ customer.name }}"
    t = load_templates(sheet=[("mine.en.text", source, "Templates!B2")])
    context = {"totals": [{"items": 3, "currency": "CNY"}, {"items": 1, "currency": "USD"}], "customer": {"name": "A"}}
    assert t.render("mine.en.text.j2", context) == "3 CNY;1 USD;A"


def test_a_dict_without_the_key_is_still_guarded_by_the_sandbox():
    t = load_templates(sheet=[("mine.en.text", "{{ customer.missing }}", "Templates!B2"),
                              ("evil.en.text", "{{ customer.__class__ }}", "Templates!B3")])
    with pytest.raises(TemplateError, match="has no attribute 'missing'"):
        t.render("mine.en.text.j2", {"customer": {"name": "A"}})
    with pytest.raises(TemplateError, match="unsafe"):
        t.render("evil.en.text.j2", {"customer": {"name": "A"}})
