"""How pandas and numpy behave in a run: text as Python strings whether pyarrow is installed or
not (pandas 3 would keep it in Arrow, and a full sheet's refresh took a third longer and half
as much memory again), overflow raised."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from xl_ar.core.numerics import python_strings, strict_numerics


def test_a_run_keeps_text_as_python_strings_and_gives_the_caller_its_setting_back():
    with pd.option_context("mode.string_storage", "pyarrow"):
        with strict_numerics():
            assert pd.get_option("mode.string_storage") == "python"
            column = pd.Series(np.array(["a", "b"], dtype=object))
            assert isinstance(column.array, (pd.arrays.StringArray, pd.arrays.NumpyExtensionArray))
            with pytest.raises(FloatingPointError):
                np.array([1e308]) * 10
        assert pd.get_option("mode.string_storage") == "pyarrow"


@pytest.mark.parametrize("module", ["xl_ar.udfs", "xl_ar.ribbon"])
def test_the_processes_excel_starts_keep_text_as_python_strings(module):
    with pd.option_context("mode.string_storage", "pyarrow"):
        importlib.reload(importlib.import_module(module))
        assert pd.get_option("mode.string_storage") == "python"


def test_python_strings_sets_it_for_the_process():
    with pd.option_context("mode.string_storage", "pyarrow"):
        python_strings()
        assert pd.get_option("mode.string_storage") == "python"
