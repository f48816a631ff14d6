"""README.md is the contract: its Python examples run as written (on the real MRPC files, into a temp folder)."""

import math
import re

import pytest

from tests.conftest import REPO

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.fixture
def run_block(glue_dir, tmp_path, ray_cluster):
    def run(index: int) -> dict:
        code = BLOCKS[index].replace("../shared/data/glue", str(glue_dir)).replace("/tmp/raydim-readme", str(tmp_path))
        namespace: dict = {}
        exec(compile(code, f"README.md python block {index}", "exec"), namespace)
        return namespace

    return run


def test_data_and_train_example(run_block):
    namespace = run_block(0)
    assert namespace["result"].best.epoch == 1 and 0 <= namespace["result"].best.primary <= 1


def test_search_example(run_block):
    namespace = run_block(1)
    [result] = namespace["results"]
    assert result.key == "mrpc:minilm-l6@final:said" and result.baseline == 0.8 and 1 <= result.trials_used <= 4
    assert namespace["tuner"].__class__.__name__ == "Tuner"


def test_hand_written_tuner_example(run_block):
    result = run_block(2)["result"]
    assert result.status == "found" and abs(math.log(result.d90 / 300)) < math.log(1.5)
