"""A run's progress within its steps (:class:`xl_ar.core.progress.Step`): fractions placed in the
step's stretch of the run, whole percents only, never backwards, only from the run's thread."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, strategies as st

from xl_ar.core.progress import Step, quiet


def recorder():
    seen: list[tuple[str, float]] = []
    return seen, lambda stage, fraction: seen.append((stage, fraction))


def test_a_step_reports_its_stage_at_the_matching_point_of_the_run():
    seen, progress = recorder()
    read = Step(progress, "read", 0.0, 0.3).begin()
    read(0.5)
    read(1.0)
    assert seen == [("read", 0.0), ("read", 0.15), ("read", 0.3)]


def test_parts_split_a_step_without_knowing_where_it_lies():
    seen, progress = recorder()
    write = Step(progress, "write", 0.7, 1.0)
    sheets = write.part(0.0, 0.9).parts({"Invoices": 3.0, "Receipts": 1.0})
    sheets["Invoices"](0.5)  # half of the first three quarters of 0.7 .. 0.97
    sheets["Receipts"](0.0)
    sheets["Receipts"](1.0)
    write(1.0)
    assert [stage for stage, _ in seen] == ["write"] * 4
    assert [round(f, 6) for _, f in seen] == [0.80125, 0.9025, 0.97, 1.0]


def test_parts_of_no_weight_are_equal():
    seen, progress = recorder()
    parts = Step(progress, "read").parts({"a": 0, "b": 0, "c": 0, "d": 0})
    for name in "abcd":
        parts[name](1.0)
    assert [f for _, f in seen] == [0.25, 0.5, 0.75, 1.0]
    assert Step(progress, "read").parts({}) == {}


def test_only_a_whole_percent_more_is_reported():
    seen, progress = recorder()
    rows = Step(progress, "read", 0.0, 0.3)
    for k in range(1_000_001):  # a million rows, each told
        if k % 1000 == 0:
            rows(k / 1_000_000)
    assert len(seen) == 31  # 0% .. 30%
    assert [int(f * 100 + 1e-9) for _, f in seen] == list(range(31))


def test_a_new_step_is_always_shown_and_an_old_one_never_again():
    seen, progress = recorder()
    read = Step(progress, "read", 0.0, 0.3)
    read(1.0)
    validate = read.then("validate", 0.3, 0.5)
    validate(0.0)  # the same fraction, a new step: shown
    read(1.0)  # the reading thread's last report, come late: dropped
    validate(0.4)
    validate(0.2)  # backwards: dropped
    compute = validate.then("compute", 0.5, 0.7)
    compute(0.0)
    validate(1.0)  # the previous step again, further than the new one has come: dropped
    assert seen == [("read", 0.3), ("validate", 0.3), ("validate", 0.38), ("compute", 0.5)]


def test_a_step_without_a_callback_does_nothing():
    Step()(0.5)
    Step(quiet, "read")(0.5)
    Step().part(0.2, 0.4).parts({"a": 1.0})["a"](1.0)


def test_reports_from_another_thread_are_dropped():
    seen, progress = recorder()
    read = Step(progress, "read", 0.0, 0.3)
    sheet = read.part(0.5, 1.0)
    other = threading.Thread(target=lambda: sheet(1.0))
    other.start()
    other.join()
    read(0.5)
    assert seen == [("read", 0.15)]


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(-0.5, 1.5, allow_nan=False)), max_size=60))
def test_what_is_shown_only_ever_moves_forward_within_the_run(calls):
    seen, progress = recorder()
    first = Step(progress, "read", 0.0, 0.3)
    steps = [first, first.then("validate", 0.3, 0.5), first.then("compute", 0.5, 0.7), first.then("write", 0.7, 1.0)]
    for k, done in calls:
        steps[k](done)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    for (s1, f1), (s2, f2) in zip(seen, seen[1:]):  # within a stage, each report a whole percent further
        if s1 == s2:
            assert int(f2 * 100 + 1e-9) > int(f1 * 100 + 1e-9)
    order = ["read", "validate", "compute", "write"]
    for (s1, _), (s2, _) in zip(seen, seen[1:]):
        assert order.index(s2) >= order.index(s1) or s1 == s2


@pytest.mark.parametrize("done", [-1.0, 2.0])
def test_a_fraction_out_of_range_is_held_to_the_step(done):
    seen, progress = recorder()
    Step(progress, "write", 0.7, 1.0)(done)
    assert seen == [("write", 0.7 if done < 0 else 1.0)]


def test_a_redrawing_callback_is_called_only_when_what_it_shows_changes():
    from xl_ar.core.progress import by_whole_percent, whole_percent

    seen, show = recorder()
    progress = by_whole_percent(show)
    for fraction in (0.3, 0.301, 0.309, 0.31):
        progress("render", fraction)  # a run's own reports, as many as it likes
    progress("write", 0.31)  # another step at the same percent: shown
    progress("write", 0.31)
    assert seen == [("render", 0.3), ("render", 0.31), ("write", 0.31)]
    assert [whole_percent(f) for f in (0.29, 0.7, 0.999, 1.0)] == [29, 70, 99, 100]
