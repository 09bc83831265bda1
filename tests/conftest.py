import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/tables.py and other test helpers

# pyarrow is installed (the column reader's arrays): pandas would keep text as Arrow strings in a
# test that calls the library directly; xl-ar's entry points keep it as Python strings, and so
# do the tests, which then see the frames a run sees.
from xl_ar.core.numerics import python_strings  # noqa: E402

python_strings()
