"""The template sandbox: Jinja2's immutable sandbox with hard limits enforced while rendering.

A template on a workbook's Templates sheet may come from anyone who sent the workbook, so a
rendering must end quickly and small whatever the template says. Jinja2's own sandbox stops
code execution and a single giant ``range``, but not nested loops (100,000 × 100,000 turns of
a loop), nor text that doubles at each step (``{% set s = [s, s]|join %}``, ``s ~ s``), nor a
filter asked for a width of a billion. Here every place a template can spend time or memory is
charged to one :class:`Budget` per rendering, checked *before* the big value is built:

* every turn of a ``{% for %}`` loop and every item a ``range()`` makes (the loop's iterable is
  wrapped at compile time, so nested and recursive loops are all counted);
* every call (macros, methods, filters through ``map``);
* every piece of text or list an operator, filter or method makes (``*``, ``+``, ``~``, ``%``,
  ``|join``, ``|replace``, ``|center``, ``.ljust()``...): each at most :data:`MAX_VALUE_CHARS`,
  and all of them together at most :data:`MAX_TEXT_WORK`;
* the output, counted as it is generated (see ``TemplateSet.render``).

Limits far above what a letter needs (a reminder renders with a few hundred steps and a few
kilobytes) and far below what hurts (a second of CPU, tens of megabytes).
"""

from __future__ import annotations

import contextvars
import functools
import re
from typing import Any, Iterable, Iterator

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import Macro, markup_join, str_join
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import pass_environment, pass_eval_context
from jinja2.visitor import NodeTransformer

#: The largest text, list or rendered output one template may make (characters or items).
MAX_VALUE_CHARS = 1_000_000
#: Loop turns, range items and calls one rendering may spend.
MAX_STEPS = 2_000_000
#: Characters all intermediate values of one rendering may add up to.
MAX_TEXT_WORK = 50_000_000
#: What a macro call costs, in loop turns.
_MACRO_STEPS = 20
#: The largest number a size-controlling argument may have (a width, a count, a batch size).
MAX_SIZE_ARG = 10_000

_LOOP_FILTER = "xl_ar_loop"
_CONCAT_FILTER = "xl_ar_concat"
#: Filters whose numeric arguments decide the size of what they make.
_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "format", "join",
                            "replace", "tojson"})
#: String methods whose numeric arguments decide the size of what they make.
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map",
                            "replace", "join", "split", "rsplit", "splitlines"})
#: A width or precision of seven digits or more in a format (``%9999999s``, ``{:>9999999}``).
_HUGE_FORMAT = re.compile(r"\d{7,}")


class Budget:
    """What one rendering has spent; raises :class:`SecurityError` past a limit."""

    def __init__(self) -> None:
        self.steps = 0
        self.text = 0

    def step(self, n: int = 1) -> None:
        """Charge loop turns, range items or calls."""
        self.steps += n
        if self.steps > MAX_STEPS:
            raise SecurityError(f"the template runs too long (more than {MAX_STEPS:,} loop turns or calls)")

    def made(self, size: int) -> None:
        """Charge a value about to be made: ``size`` characters or items."""
        if size > MAX_VALUE_CHARS:
            raise SecurityError(f"the template builds a value of {size:,} characters "
                                f"(at most {MAX_VALUE_CHARS:,})")
        self.text += size
        if self.text > MAX_TEXT_WORK:
            raise SecurityError("the template builds too much text in all")


_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("xl_ar_template_budget", default=None)


def budget() -> Budget:
    """The budget of the rendering under way (a fresh one outside: compile-time constant folding)."""
    return _CURRENT.get() or Budget()


class rendering:
    """``with rendering():`` gives one rendering its own :class:`Budget`."""

    def __enter__(self) -> Budget:
        self._budget = Budget()
        self._token = _CURRENT.set(self._budget)
        return self._budget

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


def _check_size_args(what: str, args: Iterable[Any]) -> None:
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_SIZE_ARG:
            raise SecurityError(f"{what} with a number as large as {a:,} is not allowed in a template")
        if isinstance(a, str) and _HUGE_FORMAT.search(a) and ("%" in a or "{" in a):
            raise SecurityError(f"{what} with a width of seven digits or more is not allowed in a template")


def _join_size(items: list[Any], sep: str, attribute: Any = None, env: Any = None) -> int:
    get = make_attrgetter(env, attribute) if attribute is not None and env is not None else (lambda x: x)
    total = len(sep) * max(len(items) - 1, 0)
    for x in items:
        total += len(str(get(x)))
        if total > MAX_VALUE_CHARS:
            break
    return total


def _replace_size(s: str, old: str, new: str, count: int | None = None) -> int:
    n = (s.count(old) if old else len(s) + 1)
    if count is not None and count >= 0:
        n = min(n, count)
    return len(s) + n * max(len(new) - len(old), 0)


def _guard_filter(name: str, fn: Any) -> Any:
    """``fn`` checked: its size arguments before, its result's size after."""
    passed = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        b = budget()
        b.step()
        if name in _SIZED_FILTERS:
            _check_size_args(f"|{name}", [*args[passed:], *kwargs.values()])
        value, rest = (args[passed], list(args[passed + 1:])) if len(args) > passed else (None, [])
        if name == "join" and value is not None:
            items = list(value)
            sep = kwargs.get("d", rest[0] if rest else "")
            attribute = kwargs.get("attribute", rest[1] if len(rest) > 1 else None)
            env = getattr(args[0], "environment", None) if passed else None
            b.made(_join_size(items, str(sep), attribute, env))
            args = (*args[:passed], items, *rest)
        elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
            b.made(_replace_size(value, str(rest[0]), str(rest[1]), rest[2] if len(rest) > 2 else None))
        elif name == "indent" and isinstance(value, str):
            width = kwargs.get("width", rest[0] if rest else 4)
            b.made(len(value) + (value.count("\n") + 1) * (len(width) if isinstance(width, str) else int(width)))
        elif name == "wordwrap" and isinstance(value, str):
            wrap = kwargs.get("wrapstring", rest[3] if len(rest) > 3 else None) or "\n"
            b.made(len(value) * (1 + len(str(wrap))))
        elif name == "tojson" and int(kwargs.get("indent") or 0) > 8:
            raise SecurityError("|tojson with an indent above 8 is not allowed in a template")
        out = fn(*args, **kwargs)
        b.made(_size(out))
        return out

    return guarded


@pass_eval_context
def _concat(eval_ctx: Any, parts: list[Any]) -> str:
    """``a ~ b``: charged before it is joined."""
    budget().made(sum(len(str(p)) for p in parts))
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


@pass_environment
def _loop(env: Any, iterable: Any) -> Iterator[Any]:
    """A ``{% for %}`` loop's iterable, each turn charged."""
    b = budget()
    for item in iterable:
        b.step()
        yield item


class _Counted(NodeTransformer):
    """Rewrites a template's tree so loops and ``~`` go through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), _CONCAT_FILTER, [], [], None, None,
                            lineno=node.lineno)


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the limits of this module enforced while rendering."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.globals.pop("lipsum", None)  # paragraphs of filler on demand: no use in a letter
        self.globals["range"] = _range
        self.filters = {name: _guard_filter(name, fn) for name, fn in self.filters.items()}
        self.filters[_LOOP_FILTER] = _loop
        self.filters[_CONCAT_FILTER] = _concat

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        # Jinja's documented hook for generating code: the tree is rewritten first.
        return super()._generate(_Counted().visit(source), name, filename, defer_init=defer_init)

    def getattr(self, obj: Any, attribute: str) -> Any:  # noqa: D102 - Jinja's hook
        # A template's context is plain dicts, and ``item.invoice_no`` names one of their keys
        # (as the template check reads it): looked up first, as ``item["invoice_no"]`` would be,
        # instead of after the attribute of that name is looked for and missed (an exception
        # each time: a tenth of a lawyer's-letter draft's making). ``x.items`` on a dict with an
        # "items" key is that key, as the check says; anything else as Jinja has it.
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:  # noqa: D102 - Jinja's hook
        b = budget()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError("a power above 100 is not allowed in a template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    b.made(len(seq) * max(n, 0))
        elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            b.made(len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_size_args("%", [left, *(right if isinstance(right, tuple) else (right,))])
            b.made(len(left) + sum(len(str(x)) for x in (right if isinstance(right, tuple) else (right,))))
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: D102,N805 - Jinja's hook
        b = budget()
        # A macro call costs far more than a loop turn (a new frame, a buffer, a Markup join).
        b.step(_MACRO_STEPS if isinstance(__obj, Macro) else 1)
        method = getattr(__obj, "__wrapped__", __obj)
        owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
        if isinstance(owner, str) and name in _SIZED_METHODS:
            _check_size_args(f".{name}()", [owner, *args, *kwargs.values()])
            if name == "join" and args:
                items = list(args[0])
                b.made(_join_size(items, owner))
                args = (items, *args[1:])
            elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
                b.made(_replace_size(owner, args[0], args[1], args[2] if len(args) > 2 else None))
        out = super().call(__context, __obj, *args, **kwargs)
        b.made(_size(out))
        return out


def _range(*args: int) -> range:
    """``range()`` of at most :data:`MAX_RANGE` items, each charged as it is made."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"a range of more than {MAX_RANGE:,} items is not allowed in a template")
    budget().step(len(rng))
    return rng
