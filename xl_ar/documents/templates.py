"""Message templates: shipped in Chinese and English, overridable by the user, rendered in a sandbox.

A template is named ``KIND.LANG.PART.j2``: KIND is a letter kind (``reminder``, ``overdue``,
``dunning``, ``lawyer``, ``sms``) or a stage key (a user's own stage gets its own letter by
adding ``final_notice.en.text.j2``...), LANG is ``zh`` or ``en``, PART is ``subject``,
``text`` or ``html`` (an SMS has only ``text``). Other names (``items.en.text.j2``) are
partials the letters include.

Where templates come from, the first found wins:

1. the workbook's ``Templates`` sheet (``模板``): a Name column and a Template column, one
   template per row (it travels with the workbook);
2. a ``templates`` folder next to the workbook (``*.j2`` files);
3. the templates shipped in ``xl_ar/documents/templates``.

Templates are data a user typed, possibly in a workbook someone sent them, so they run in
Jinja2's ``ImmutableSandboxedEnvironment`` (no attribute of Python internals, no mutation of
the context) with ``StrictUndefined``, and with hard limits on loop turns, calls, the size of
every value made and of the output, enforced while rendering (see :mod:`xl_ar.documents.sandbox`).
Before anything is rendered every template is checked against :data:`CONTEXT_FIELDS`: a field
that does not exist (``{{ customer.nmae }}``) is an error naming the template, where it came
from and the line, found even in a branch the data of this run would never take.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError as JinjaError, UndefinedError

from xl_ar.documents.sandbox import MAX_VALUE_CHARS, Sandbox, rendering

SHIPPED_DIR = Path(__file__).parent / "templates"
USER_DIR_NAME = "templates"
KINDS = ("reminder", "overdue", "dunning", "lawyer")
PARTS = ("subject", "text", "html")
LANGS = ("zh", "en")
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_OUTPUT_CHARS = MAX_VALUE_CHARS

# --------------------------------------------------------------------------- the known fields

_ANY = object()  # a value whose attributes are not checked (loop, macros, set variables)
_SCALAR = "scalar"  # text or number: its string methods are allowed, no fields


@dataclass(frozen=True)
class ListOf:
    """A list whose elements have the fields of ``item``."""

    item: Any


_ITEM = {k: _SCALAR for k in (
    "invoice_no", "invoice_date", "due_date", "currency", "amount", "open", "late_fee", "total_due", "days_late",
    "days_to_due", "overdue", "due_soon", "has_late_fee", "stage", "stage_label", "contract_no", "description",
    "interest_from", "compensation")}
_TOTAL = {k: _SCALAR for k in ("currency", "open", "overdue", "late_fee", "due_soon", "total_due", "items",
                                "has_overdue", "has_late_fee", "total_due_words",
                                "interest", "compensation", "has_compensation")}

#: Every field a template may use. Amounts are text already formatted ("8,000.00"), dates are
#: text in the letter's language ("2025年3月31日" / "31 Mar 2025"), days are whole numbers.
CONTEXT_FIELDS: dict[str, Any] = {
    "company": {k: _SCALAR for k in ("name", "phone", "bank_account", "sender_name", "sender_email")},
    "customer": {k: _SCALAR for k in ("id", "name", "contact", "email", "phone", "class", "language")},
    "items": ListOf(_ITEM),
    "overdue_items": ListOf(_ITEM),
    "due_soon_items": ListOf(_ITEM),
    "totals": ListOf(_TOTAL),
    "evidence": ListOf({k: _SCALAR for k in ("item", "status", "found", "missing", "gap")}),
    "fee": {k: _SCALAR for k in ("policy", "label", "statutory", "method", "rate", "source", "period",
                                 "compensation", "cap", "text")},
    **{k: _SCALAR for k in ("stage", "stage_label", "kind", "lang", "as_of", "deadline", "deadline_days",
                            "owner", "max_days_late", "message_id", "channel")},
}

# Filters that keep a list of the same elements: a loop over ``items|sort(...)`` still knows
# its elements' fields.
_SAME_LIST_FILTERS = frozenset({"sort", "reverse", "list", "unique", "selectattr", "rejectattr"})


class TemplateError(Exception):
    """A template that cannot be used: unknown field, syntax error, sandbox violation.

    Attributes:
        template: the template's name (``dunning.zh.text.j2``).
        origin: where it came from (``Templates!B4``, a file path, or ``shipped``).
        line: the line in the template (1-based), or 0 when unknown.
        problem: what is wrong.
    """

    def __init__(self, template: str, origin: str, line: int, problem: str):
        self.template, self.origin, self.line, self.problem = template, origin, line, problem
        at = f", line {line}" if line else ""
        super().__init__(f"template {template} ({origin}){at}: {problem}")


@dataclass(frozen=True)
class TemplateSource:
    """One template's text and where it came from (``origin``, for messages)."""

    name: str
    text: str
    origin: str


class _Loader(BaseLoader):
    def __init__(self, sources: Mapping[str, TemplateSource]):
        self.sources = sources

    def get_source(self, environment, template):  # noqa: D102 - Jinja's hook
        src = self.sources.get(template)
        if src is None:
            raise TemplateNotFound(template)
        # The "filename" is the origin: Jinja puts it in tracebacks, which is how a runtime
        # error is traced back to its template line.
        return src.text, _filename(src), lambda: True

    def list_templates(self):  # noqa: D102
        return sorted(self.sources)


def _filename(src: TemplateSource) -> str:
    return f"<xl-ar template {src.name}>"


class TemplateSet:
    """The templates of one workbook: shipped ones overridden by the user's."""

    def __init__(self, sources: Mapping[str, TemplateSource]):
        """Use :func:`load_templates`."""
        self.sources = dict(sources)
        self.env = Sandbox(
            loader=_Loader(self.sources), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=False, autoescape=lambda name: name is not None and ".html" in name,
        )

    def has(self, name: str) -> bool:
        """Return True when a template of that name exists (``reminder.zh.text.j2``)."""
        return name in self.sources

    def check(self, names: Iterable[str] | None = None) -> list[TemplateError]:
        """Check templates before anything is rendered: syntax, filters, known fields, includes.

        Args:
            names: the templates to check (default: all).

        Returns:
            Every problem found (an empty list when all is well).
        """
        problems: list[TemplateError] = []
        for name in sorted(names if names is not None else self.sources):
            src = self.sources[name]
            try:
                # Syntax and unknown filters or tests; compiled once a run: rendering takes the
                # template compiled here from the environment's cache.
                self.env.get_template(name)
                tree = self.env.parse(src.text, name, _filename(src))
            except TemplateSyntaxError as exc:
                problems.append(TemplateError(name, src.origin, exc.lineno or 0, exc.message or str(exc)))
                continue
            _Checker(self, src, problems).block(tree.body, dict(CONTEXT_FIELDS))
        return problems

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render one template.

        Args:
            name: the template's name.
            context: the fields of :data:`CONTEXT_FIELDS`.

        Returns:
            The text (HTML templates are autoescaped).

        Raises:
            TemplateError: naming the template and line of what failed.
        """
        src = self.sources.get(name)
        if src is None:
            raise TemplateError(name, "-", 0, "no such template")
        pieces: list[str] = []
        size = 0
        try:
            with rendering():
                # Generated piece by piece so the output limit stops a loop as it grows.
                for piece in self.env.get_template(name).generate(context):
                    size += len(piece)
                    if size > MAX_OUTPUT_CHARS:
                        raise SecurityError(f"the rendered text is longer than {MAX_OUTPUT_CHARS:,} characters")
                    pieces.append(piece)
        except RecursionError:
            raise TemplateError(name, src.origin, 0, "templates or macros call themselves too deeply") from None
        except MemoryError:
            raise TemplateError(name, src.origin, 0, "the template needs more memory than there is") from None
        except (UndefinedError, SecurityError, JinjaError, TypeError, ValueError, ArithmeticError) as exc:
            failing, line = _where(exc, self.sources, name)
            raise TemplateError(failing.name, failing.origin, line, f"{type(exc).__name__}: {exc}") from None
        return "".join(pieces)


def _where(exc: BaseException, sources: Mapping[str, TemplateSource], default: str) -> tuple[TemplateSource, int]:
    """The innermost template frame of a rendering error's traceback (Jinja rewrites it)."""
    by_file = {_filename(s): s for s in sources.values()}
    found, line = sources[default], 0
    tb = exc.__traceback__
    while tb is not None:
        src = by_file.get(tb.tb_frame.f_code.co_filename)
        if src is not None:
            found, line = src, tb.tb_lineno
        tb = tb.tb_next
    return found, line


class _Checker:
    """Walks a template's syntax tree with the fields each name stands for in scope."""

    def __init__(self, tset: TemplateSet, src: TemplateSource, problems: list[TemplateError]):
        self.tset, self.src, self.problems = tset, src, problems
        self.globals = set(tset.env.globals)

    def bad(self, node: nodes.Node, problem: str) -> None:
        self.problems.append(TemplateError(self.src.name, self.src.origin, getattr(node, "lineno", 0) or 0, problem))

    def block(self, body: Sequence[nodes.Node], scope: dict[str, Any]) -> None:
        for node in body:
            self.stmt(node, scope)

    def bind(self, target: nodes.Node, value: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = value
        elif isinstance(target, nodes.Tuple):
            for t in target.items:
                self.bind(t, _ANY, scope)

    def stmt(self, node: nodes.Node, scope: dict[str, Any]) -> None:
        if isinstance(node, nodes.For):
            it = self.expr(node.iter, scope)
            inner = dict(scope)
            self.bind(node.target, it.item if isinstance(it, ListOf) else _ANY, inner)
            inner["loop"] = _ANY
            if node.test is not None:
                self.expr(node.test, inner)
            self.block(node.body, inner)
            self.block(node.else_, scope)
        elif isinstance(node, nodes.Assign):
            value = self.expr(node.node, scope)
            if isinstance(node.target, nodes.NSRef):
                self.expr(nodes.Name(node.target.name, "load", lineno=node.lineno), scope)
            else:
                self.bind(node.target, value, scope)
        elif isinstance(node, nodes.AssignBlock):
            self.block(node.body, dict(scope))
            self.bind(node.target, _SCALAR, scope)
        elif isinstance(node, nodes.Macro):
            scope[node.name] = _ANY
            inner = dict(scope)
            for a in node.args:
                inner[a.name] = _ANY
            inner.update(varargs=_ANY, kwargs=_ANY, caller=_ANY)
            for d in node.defaults:
                self.expr(d, scope)
            self.block(node.body, inner)
        elif isinstance(node, nodes.CallBlock):
            self.expr(node.call, scope)
            inner = dict(scope)
            for a in node.args:
                inner[a.name] = _ANY
            self.block(node.body, inner)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for t, v in zip(node.targets, node.values):
                self.bind(t, self.expr(v, scope), inner)
            self.block(node.body, inner)
        elif isinstance(node, (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
            t = node.template
            if isinstance(t, nodes.Const) and isinstance(t.value, str):
                if not self.tset.has(t.value):
                    self.bad(node, f'no template named "{t.value}"')
            else:
                self.expr(t, scope)
            if isinstance(node, nodes.Import):
                scope[node.target] = _ANY
            elif isinstance(node, nodes.FromImport):
                for n in node.names:
                    scope[n[1] if isinstance(n, tuple) else n] = _ANY
        elif isinstance(node, nodes.Expr):
            self.expr(node, scope)
        else:  # Output, If, Block, Scope, FilterBlock, ...: statements and expressions inside
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Expr):
                    self.expr(child, scope)
                else:
                    self.stmt(child, scope)

    def expr(self, node: nodes.Node, scope: dict[str, Any]) -> Any:
        """Check an expression; return the fields of what it evaluates to."""
        if isinstance(node, nodes.Name):
            if node.ctx != "load":
                return _ANY
            if node.name in scope:
                return scope[node.name]
            if node.name in self.globals:
                return _ANY
            self.bad(node, f'unknown field "{node.name}"')
            return _ANY
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            base = self.expr(node.node, scope)
            if isinstance(node, nodes.Getitem):
                key = node.arg.value if isinstance(node.arg, nodes.Const) else None
                if not isinstance(node.arg, nodes.Const):
                    self.expr(node.arg, scope)
                if isinstance(node.arg, nodes.Slice):
                    return base
                if isinstance(base, ListOf):
                    return base.item if not isinstance(key, str) else _ANY
                if not isinstance(key, str):
                    return _ANY
            else:
                key = node.attr
            if isinstance(base, dict):
                if key not in base:
                    self.bad(node, f'unknown field "{_dotted(node)}"')
                    return _ANY
                return base[key]
            return _ANY
        if isinstance(node, nodes.Filter):
            base = self.expr(node.node, scope) if node.node is not None else _ANY
            self._args(node, scope)
            return base if node.name in _SAME_LIST_FILTERS and isinstance(base, ListOf) else _ANY
        if isinstance(node, nodes.Test):
            self.expr(node.node, scope)
            self._args(node, scope)
            return _SCALAR
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test, scope)
            a = self.expr(node.expr1, scope)
            if node.expr2 is not None:
                self.expr(node.expr2, scope)
            return a
        for child in node.iter_child_nodes():
            self.expr(child, scope)
        return _ANY

    def _args(self, node: nodes.Filter | nodes.Test, scope: dict[str, Any]) -> None:
        for a in node.args:
            self.expr(a, scope)
        for kw in node.kwargs:
            self.expr(kw.value, scope)
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.expr(extra, scope)


def _dotted(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return f"{_dotted(node.node)}[{node.arg.value!r}]"
    return "…"


def template_name(kind: str, lang: str, part: str) -> str:
    """The file name of a template, e.g. ``template_name("dunning", "zh", "text")``."""
    return f"{kind}.{lang}.{part}.j2"


def _canonical(name: str) -> str:
    name = name.strip()
    return name if name.endswith(".j2") else name + ".j2"


def _read_dir(folder: Path, origin: str | None = None) -> dict[str, TemplateSource]:
    out: dict[str, TemplateSource] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.j2")):
        if not path.is_file() or path.stat().st_size > MAX_TEMPLATE_BYTES:
            continue
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        out[path.name] = TemplateSource(path.name, text, origin or str(path))
    return out


def load_templates(book_dir: str | Path | None = None,
                   sheet: Sequence[tuple[str, str, str]] = ()) -> TemplateSet:
    """The templates for a workbook: its Templates sheet, then its templates folder, then ours.

    Args:
        book_dir: the workbook's folder (its ``templates`` subfolder is read), or None.
        sheet: rows of a Templates sheet as ``(name, text, place)``, e.g.
            ``("dunning.zh.text", "尊敬的...", "Templates!B4")``; ``.j2`` is added when missing.

    Returns:
        The :class:`TemplateSet`.
    """
    sources = _read_dir(SHIPPED_DIR, "shipped")
    if book_dir is not None:
        sources.update(_read_dir(Path(book_dir) / USER_DIR_NAME))
    for name, text, place in sheet:
        if name and text:
            n = _canonical(name)
            sources[n] = TemplateSource(n, str(text).replace("\r\n", "\n"), place)
    return TemplateSet(sources)


def templates_for(tset: TemplateSet, kind: str, lang: str, channel: str) -> dict[str, str]:
    """The template names a message uses: part -> name (``sms`` has a text part only).

    Args:
        tset: the templates.
        kind: the letter kind or a stage key with its own templates.
        lang: "zh" or "en".
        channel: "email" or "sms".

    Returns:
        part -> template name, for the parts that exist (subject and text are required).
    """
    if channel == "sms":
        return {"text": template_name("sms", lang, "text")}
    return {p: template_name(kind, lang, p) for p in PARTS if tset.has(template_name(kind, lang, p)) or p != "html"}

