"""Every table in the docs marked ``<!-- generated: raydim report ... -->`` is what that command prints now, from
the results store the repository commits, so a document cannot drift from its data: rerunning a study (or
changing how d90 is computed) without regenerating its tables fails here."""

import re
import shlex

import pytest

from raydim.cli import main
from tests.conftest import REPO

BLOCK = re.compile(r"<!-- generated: (raydim report [^>]*?) -->\n(.*?)\n<!-- end -->", re.S)
DOCS = sorted(REPO.glob("docs/*.md")) + [REPO / "README.md"]
BLOCKS = [(doc, command, table) for doc in DOCS for command, table in BLOCK.findall(doc.read_text())]


def test_the_study_and_the_default_search_have_their_tables_generated():
    commands = {(doc.name, command) for doc, command, _ in BLOCKS}
    assert ("results.md", "raydim report --storage docs/results/store --format md") in commands
    assert ("results.md", "raydim report --storage docs/results/store --trials --format md") in commands
    assert ("subspace.md", "raydim report --storage docs/results/mrpc-default --format md") in commands
    assert len(commands) == len(BLOCKS), "a generated table appears twice in one document"


@pytest.mark.parametrize("doc, command, table", BLOCKS, ids=[f"{d.name}: {c}" for d, c, _ in BLOCKS])
def test_generated_table_is_what_its_command_prints(doc, command, table, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the commands name the committed stores relative to the repository
    argv = shlex.split(command)[1:]
    assert "--storage" in argv and "--format" in argv, f"{command}: name the committed store and --format md"
    assert main(argv) == 0
    assert table.strip() == capsys.readouterr().out.strip(), (
        f"a table of {doc.relative_to(REPO)} differs from `{command}`: paste that command's output between its "
        "markers")
