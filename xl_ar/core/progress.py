"""The progress protocol every long run reports through.

A run calls ``progress(stage, fraction)`` with the name of the step it is in ("read",
"validate", "compute", "write", "done", or a step of its own) and the fraction of the whole
run done (0.0 to 1.0). The CLI draws a progress bar from it, the ribbon Excel's status bar,
tests and ``--quiet``/``--json`` runs pass :func:`quiet`. It lives in the core because every
layer accepts it.

Within a step, the code doing the work reports how much of the step is done through a
:class:`Step`, without knowing where the step lies in the run: on a full sheet each of a
refresh's four steps takes seconds, and the bar moves through them (the reader by the bytes
and rows it has read, validation by table, the rules one by one, the splice by the bytes of
the sheet it has written).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

Progress = Callable[[str, float], None]


def quiet(stage: str, fraction: float) -> None:
    """A progress callback that shows nothing."""


#: What the bar and Excel's status bar call each step, in both languages.
STEP_NAMES: dict[str, str] = {
    "read": "读取账簿 / reading the book",
    "validate": "检查数据 / checking the ledger",
    "compute": "计算 / computing",
    "write": "写回 / writing back",
    "render": "生成草稿 / making the drafts",
    "fonts": "准备字体 / preparing the fonts",
    "send": "发送 / sending",
    "done": "完成 / done",
}


def step_name(stage: str) -> str:
    """A step's name as shown (the stage itself when it has none of its own)."""
    return STEP_NAMES.get(stage, stage)


def whole_percent(fraction: float) -> int:
    """The whole percent a fraction of the run shows (0.29 is 29, not 28 for a float's error)."""
    return int(fraction * 100 + 1e-9)


def by_whole_percent(show: Progress) -> Progress:
    """``show`` called only when the step or its whole percent changes: for a callback that
    redraws (the command's bar, Excel's status bar), whoever reports, however often."""
    shown: list[tuple[str, int]] = [("", -1)]

    def progress(stage: str, fraction: float) -> None:
        now = (stage, whole_percent(fraction))
        if now != shown[0]:
            shown[0] = now
            show(stage, fraction)

    return progress


class _Shown:
    """What a run's callback was last given: shared by a step and its parts."""

    __slots__ = ("step", "percent", "steps", "thread")

    def __init__(self) -> None:
        self.step = -1  # the number of the step shown (steps are numbered as :meth:`Step.then` makes them)
        self.percent = -1
        self.steps = 0  # steps made so far
        self.thread = threading.get_ident()


class Step:
    """One step of a run, reporting how much of itself is done.

    ``step(done)``, with ``done`` from 0 to 1, reports ``stage`` to the run's callback at the
    matching point between ``start`` and ``end`` (fractions of the whole run). A part of a step
    (:meth:`part`) is a step too, so a function given one can split it further without knowing
    where it lies; the run's next step is made by :meth:`then`. The callback is called when a
    step begins (its first report) and then only when the whole percent grows: never backwards
    (a step's report after the next step began is dropped), and not a million times for a
    million rows (Excel's status bar is written at each call). Reports from any thread but the
    one that made the run's first step are dropped: a reading thread's work shows when the run
    takes its result.

    ``Step()`` (no callback) reports nothing: the default of every function that takes one.
    """

    __slots__ = ("_progress", "_stage", "_start", "_span", "_shown", "_number")

    def __init__(self, progress: Progress | None = None, stage: str = "", start: float = 0.0, end: float = 1.0,
                 *, _shown: _Shown | None = None, _number: int | None = None):
        self._progress = None if progress is quiet else progress
        self._stage, self._start, self._span = stage, start, max(end - start, 0.0)
        self._shown = _shown if _shown is not None else _Shown()
        if _number is None:
            _number, self._shown.steps = self._shown.steps, self._shown.steps + 1
        self._number = _number

    def __call__(self, done: float) -> None:
        if self._progress is None:
            return
        shown = self._shown
        if threading.get_ident() != shown.thread:
            return
        fraction = self._start + self._span * min(max(done, 0.0), 1.0)
        percent = whole_percent(fraction)
        if self._number < shown.step or self._number == shown.step and percent <= shown.percent:
            return
        shown.step, shown.percent = self._number, percent
        self._progress(self._stage, fraction)

    def begin(self) -> Step:
        """Report the step's beginning (its name at its first fraction); returns the step."""
        self(0.0)
        return self

    def part(self, start: float, end: float) -> Step:
        """The part of this step from ``start`` to ``end`` (fractions of this step)."""
        return Step(self._progress, self._stage, self._start + self._span * start, self._start + self._span * end,
                    _shown=self._shown, _number=self._number)

    def parts(self, weights: Mapping[Any, float]) -> dict[Any, Step]:
        """This step split in consecutive parts, one per key, each as long as its weight's share
        (all equal when every weight is 0)."""
        total = sum(max(w, 0.0) for w in weights.values())
        out, at = {}, 0.0
        for key, w in weights.items():
            share = max(w, 0.0) / total if total > 0 else 1 / len(weights)
            out[key] = self.part(at, min(at + share, 1.0))
            at += share
        return out

    def then(self, stage: str, start: float, end: float) -> Step:
        """The run's next step, ``stage`` from ``start`` to ``end`` of the whole run (after this
        step's), reporting through the same callback: once it has reported, this one no longer
        does."""
        return Step(self._progress, stage, start, end, _shown=self._shown)
