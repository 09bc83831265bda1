"""The command's progress bar: each step named in both languages, on a terminal only."""

from __future__ import annotations

import io
import re

from rich.cells import cell_len
from rich.console import Console

from xl_ar.cli.common import progress_bar
from xl_ar.core.progress import Step


def drawn(console: Console) -> str:
    with progress_bar(console) as progress:
        read = Step(progress, "read", 0.0, 0.3)
        read(0.5)
        read.then("write", 0.7, 1.0)(0.5)
        read.then("[red]odd[/] step", 0.9, 1.0)(0.0)  # a name is printed as it is, never as markup
    return console.file.getvalue()


def test_the_bar_names_each_step_in_both_languages():
    out = drawn(Console(file=io.StringIO(), force_terminal=True, width=100))
    assert "读取账簿 / reading the book" in out and "写回 / writing back" in out
    assert "[red]odd[/] step" in out


def test_no_bar_off_a_terminal_or_when_quiet():
    assert drawn(Console(file=io.StringIO(), force_terminal=False, width=100)) == ""
    assert drawn(Console(file=io.StringIO(), force_terminal=True, quiet=True, width=100)) == ""


def test_the_bar_stays_in_its_place_from_step_to_step():
    out = drawn(Console(file=io.StringIO(), force_terminal=True, width=100))
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in re.split(r"[\r\n]", out)]
    starts = {cell_len(line[:line.index("━")]) for line in lines if "━" in line}
    assert len(starts) == 1  # the names' column as wide as the widest name, in cells (a Chinese character is two)
