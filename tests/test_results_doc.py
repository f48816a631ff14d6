"""docs/results.md's d90 table is what ``raydim report`` makes of the committed study store, so the document
cannot drift from its data: rerunning a study space (or changing how d90 is computed) without regenerating the
table fails here."""

import re

from raydim.analysis import build_report, format_report
from raydim.store import ResultsStore
from tests.conftest import REPO

DOC = REPO / "docs" / "results.md"
STORE = REPO / "docs" / "results" / "store"
BLOCK = re.compile(r"<!-- generated: raydim report --storage docs/results/store --format md -->\n(.*?)\n<!-- end -->",
                   re.S)


def test_results_doc_table_is_the_committed_stores_report():
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) == 1, "docs/results.md must hold exactly one generated d90 table block"
    expected = format_report(build_report(ResultsStore.at(str(STORE))), "md")
    assert blocks[0].strip() == expected, (
        "docs/results.md's d90 table differs from `raydim report --storage docs/results/store --format md`: "
        "paste that command's output between the markers")

