"""The structure a successor relies on: layers, no cycles, module size, docs that exist."""

import pathlib
import re
import subprocess
import sys

import pytest


from xl_ar.core import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xl_ar"
MAX_LINES = 610  # "about 600": a module past it is split, not grown


def test_the_layer_and_cycle_contracts_hold():
    lint = pathlib.Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_the_size_guideline(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_the_code_cites_only_documents_of_the_repository():
    cited = set()
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "macros").glob("*")]:
        cited |= set(re.findall(r"\bdocs/[\w.-]+\.md\b", path.read_text(encoding="utf-8", errors="replace")))
        assert not re.search(r"\b(DOMAIN|EXCEL_NOTES|DESIGN|STYLE)\.md\b", path.read_text(encoding="utf-8", errors="replace")), path
    assert cited, "docstrings cite the repository's docs"
    for doc in cited:
        assert (ROOT / doc).is_file(), doc


def test_the_readme_settings_table_is_the_registry():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert table == registry.markdown_table()


def test_every_setting_key_and_alias_is_unique():
    names = [registry.fold(a) for s in registry.SETTINGS for a in (s.key, *s.aliases)]
    assert len(names) == len(set(names))
    assert {s.feature for s in registry.SETTINGS} <= set(registry.FEATURES)
    for s in registry.SETTINGS:
        assert registry.canonical_key(s.key.upper()) == s.key
        for a in s.aliases:
            assert registry.canonical_key(a) == s.key


def test_the_new_ledger_lists_every_setting_of_the_registry():
    from xl_ar.book.newbook import ALL_SETTING_DEFAULTS

    keys = [k for k, *_ in ALL_SETTING_DEFAULTS]
    plain = [s.key for s in registry.SETTINGS if "<" not in s.key]
    assert keys[:len(plain)] == plain
    assert keys[len(plain):] and all(k.startswith("Owner.") for k in keys[len(plain):])
