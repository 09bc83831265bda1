"""A run pauses the cyclic garbage collector while it reads and computes, lets it run while it
makes documents (they leave cycles behind), and gives it back as it was."""

from __future__ import annotations

import datetime as dt
import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xl_ar.core.memory import collector_paused, collector_resumed, return_free_memory

sys.path.insert(0, str(Path(__file__).parents[1] / "documents"))  # the reminders' sample book


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_the_collector_is_off_within_and_on_again_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_end_with_the_outermost():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_within_still_gives_the_collector_back():
    with pytest.raises(ZeroDivisionError):
        with collector_paused():
            1 / 0
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_as_a_decorator_each_call_pauses_it_afresh():
    seen = []

    @collector_paused()
    def run(k: int) -> int:
        seen.append(gc.isenabled())
        return k * 2

    assert [run(1), run(2)] == [2, 4]
    assert seen == [False, False] and gc.isenabled()


def test_a_resumption_within_a_pause_runs_the_collector_until_it_ends():
    with collector_paused():
        with collector_resumed():
            assert gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_resumption_outside_a_pause_changes_nothing():
    with collector_resumed():
        assert gc.isenabled()
    gc.disable()
    with collector_resumed():  # the caller's choice, not a run's pause
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_a_resumption_that_ends_after_its_pause_leaves_the_collector_on():
    def documents():
        with collector_resumed():
            yield 1
            yield 2

    with collector_paused():
        made = documents()
        assert next(made) == 1 and gc.isenabled()
    assert gc.isenabled()
    made.close()  # a generator left open ends later: the run's pause is over
    assert gc.isenabled()


def test_freeing_memory_is_harmless_anywhere():
    return_free_memory()
    return_free_memory()


def test_runs_read_and_compute_paused_and_make_their_documents_with_the_collector(tmp_path):
    from test_reminders import AS_OF, NOW, make_book

    from xl_ar.app.refresh import run_refresh
    from xl_ar.app.reminders import build_reminders
    from xl_ar.app.statements import run_statements
    from xl_ar.book.filebook import FileBook

    states: dict[str, dict[str, set[bool]]] = {}

    def watch(run: str):
        return lambda stage, fraction: states.setdefault(run, {}).setdefault(stage, set()).add(gc.isenabled())

    book = make_book(tmp_path / "ledger.xlsx")
    assert run_refresh(FileBook(book), as_of=AS_OF, progress=watch("refresh")).ok
    assert build_reminders(book, AS_OF, now=NOW, out_dir=tmp_path / "r", progress=watch("reminders")).files
    assert run_statements(FileBook(book), dt.date(2025, 3, 1), AS_OF, out_dir=tmp_path / "s", formats=("xlsx",),
                          progress=watch("statements")).files
    assert all(seen == {False} for seen in states["refresh"].values())
    assert states["reminders"]["read"] == states["reminders"]["compute"] == {False}
    assert states["reminders"]["render"] == {True}  # the drafts
    assert states["reminders"]["write"] == {False}  # the Outbox sheet
    assert states["statements"]["read"] == states["statements"]["compute"] == {False}
    assert states["statements"]["write"] == {True}
    assert gc.isenabled()


def test_a_process_readied_to_exit_has_finalized_its_cycles_and_set_the_rest_aside(tmp_path):
    """(In a process of its own: what is set aside is never collected again.)"""
    marker = tmp_path / "finalized"
    code = textwrap.dedent(f"""
        import gc, sys
        from xl_ar.core.memory import ready_to_exit
        class Held:
            def __del__(self):
                with open({str(marker)!r}, "w") as f:
                    f.write("closed")
        held = Held()
        held.me = held
        del held  # garbage only a collection finds
        gc.disable()  # (as a run leaves it)
        ready_to_exit()
        assert open({str(marker)!r}).read() == "closed"
        assert gc.get_freeze_count() > 0
        sys.exit(3)
    """)
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 3


def test_the_console_script_readies_the_process_to_exit_after_the_command(monkeypatch):
    import xl_ar.cli
    import xl_ar.core.memory

    calls = []
    monkeypatch.setattr(xl_ar.cli, "main", lambda: calls.append("main") or 4)
    monkeypatch.setattr(xl_ar.core.memory, "ready_to_exit", lambda: calls.append("ready"))
    assert xl_ar.cli.console() == 4
    assert calls == ["main", "ready"]
