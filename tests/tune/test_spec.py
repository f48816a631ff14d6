"""Search specs: the shipped search spaces validate, the quick profile is the default, and every mistake is
reported together, before Ray starts."""

from pathlib import Path

import pytest

from raydim.errors import RaydimError
from raydim.search import SearchKey
from raydim.tune import SearchSpec, TrialTemplate
from raydim.tune.spec import QUICK_SEARCH
from tests.cli import assert_one_line_error
from tests.conftest import REPO

SPACES = sorted((REPO / "search_spaces").glob("*.yaml"))


def test_there_are_search_spaces_for_each_use():
    assert {p.stem for p in SPACES} >= {"quick_cpu", "paper_gpu", "glue_tasks", "scaling_models",
                                        "pretraining_checkpoints"}


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_search_space_validates_and_opens_with_its_command(path: Path):
    spec = SearchSpec.from_yaml(path)
    assert path.read_text().startswith("# ") and "raydim search --space search_spaces/" + path.name \
        in path.read_text().split("\n\n")[0]
    assert spec.keys() and spec.settings(8).parallelism >= 1


def test_shipped_spaces_cover_tasks_models_and_checkpoints():
    specs = {p.stem: SearchSpec.from_yaml(p) for p in SPACES}
    assert len(specs["glue_tasks"].tasks) >= 3
    assert len(specs["scaling_models"].models) >= 3
    assert "random-init" in specs["pretraining_checkpoints"].checkpoints
    assert specs["paper_gpu"].gpus_per_trial >= 1 and specs["paper_gpu"].train["bf16"]


def test_quick_cpu_file_is_the_default_profile():
    assert SearchSpec.from_yaml(REPO / "search_spaces" / "quick_cpu.yaml") == SearchSpec()


def test_keys_are_every_combination():
    spec = SearchSpec(tasks=["mrpc", "rte"], models=["minilm-l6"], checkpoints=["final", "random-init"],
                      methods=["did", "said"])
    assert len(spec.keys()) == 8
    assert SearchKey("rte", "minilm-l6", "random-init", "did") in spec.keys()


def test_all_errors_reported_together():
    with pytest.raises(RaydimError) as info:
        SearchSpec(tasks=["mrpcc"], methods=["full"], train={"epochs": 0, "lr": 1.0}, search={"ratio": 2},
                   cpus_per_trial=0, name="a b")
    message = str(info.value)
    for part in ("unknown task 'mrpcc'", "methods ['full']", "unknown train setting(s) ['lr']", "ratio=2",
                 "cpus_per_trial=0", "name='a b'"):
        assert part in message


def test_yaml_unknown_keys_name_the_known_ones(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("tasks: [mrpc]\nmodel: [minilm-l6]\nresources: {cpus: 2}\n")
    with pytest.raises(RaydimError, match=r"space.yaml: unknown top level setting\(s\) \['model'\]; known: tasks, "
                                          r"models.*unknown resources setting\(s\) \['cpus'\]"):
        SearchSpec.from_yaml(path)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("tasks: [mrpc\nmodels: x\n")
    with pytest.raises(RaydimError, match=r"space.yaml:\d+: not valid YAML"):
        SearchSpec.from_yaml(path)


def test_relative_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"model_type": "bert"}')
    spec = SearchSpec(models=["model"], data={"data_dir": "glue"}, storage="results")
    assert spec.models == (str(tmp_path / "model"),)
    assert spec.data["data_dir"] == str(tmp_path / "glue") and spec.storage == str(tmp_path / "results")


def test_overrides_merge_into_sections():
    spec = SearchSpec().with_overrides(tasks=["rte"], train={"epochs": 3}, search={"tolerance": 0.1}, name=None)
    assert spec.tasks == ("rte",) and spec.train["epochs"] == 3 and spec.train["batch_size"] == 32
    assert spec.settings().tolerance == 0.1 and spec.settings().d_min == QUICK_SEARCH["d_min"]


def test_parallelism_shares_the_slots_among_keys():
    spec = SearchSpec(methods=["did", "said"])
    assert spec.settings(slots=8).parallelism == 4
    assert spec.settings(slots=1).parallelism == 1
    assert SearchSpec(search={"parallelism": 3}).settings(slots=8).parallelism == 3


def test_baselines_by_task_or_by_model(glue_dir):
    spec = SearchSpec(models=["minilm-l6", "bert-base"], data={"data_dir": str(glue_dir)},
                      baselines={"mrpc": 0.8, "mrpc:bert-base@final": 0.85})
    targets = {t.key.model: t for t in spec.targets()}
    assert targets["minilm-l6"].baseline == 0.8 and targets["bert-base"].baseline == 0.85
    assert targets["minilm-l6"].chance == pytest.approx(279 / 408)  # MRPC dev majority class


def test_targets_know_the_trivial_predictors_score_on_the_rows_a_trial_scores_its_train_metric_on(glue_dir):
    spec = SearchSpec(data={"data_dir": str(glue_dir)}, train={"train_eval_samples": 256})
    [target] = spec.targets()
    # the 256 train rows of data seed 0 hold 170 paraphrases; the study's majority-class runs scored 0.664 on them
    assert target.train_chance == pytest.approx(170 / 256)
    assert SearchSpec(data={"data_dir": str(glue_dir)}).targets()[0].train_chance == pytest.approx(0.673, abs=0.01)


def test_unknown_baseline_name_is_an_error():
    with pytest.raises(RaydimError, match="baselines\\['rte'\\] names no task"):
        SearchSpec(baselines={"rte": 0.7})


def test_template_builds_each_trials_train_config():
    spec = SearchSpec(tasks=["mrpc", "rte"], checkpoints=["random-init"], data={"max_train_samples": 64})
    template = TrialTemplate.from_dict(spec.template().to_dict())
    config = template.train_config({"trial_id": "t", "task": "rte", "model": "minilm-l6",
                                    "checkpoint": "random-init", "method": "said", "d": 500, "lr": 0.1, "seed": 2})
    assert (config.data.task, config.data.max_train_samples) == ("rte", 64)
    assert (config.model, config.d, config.lr, config.seed, config.epochs, config.group_by_length) == (
        "minilm-l6@random-init", 500, 0.1, 2, 3, True)


def test_template_refuses_per_trial_settings():
    with pytest.raises(RaydimError, match=r"\['d', 'lr'\] are chosen per trial"):
        TrialTemplate({}, {"lr": 0.1, "d": 3})


def write_space(tmp_path, text: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def test_values_of_the_wrong_type_name_their_key_and_type(tmp_path, capsys, no_ray):
    space = write_space(tmp_path, "tasks: [mrpc]\nsearch: {max_trials: three, baseline_lrs: [0.1, x]}\n"
                                  "train: {batch_size: '16', bf16: 'yes'}\ndata: {max_train_samples: '100'}\n"
                                  "resources: {cpus_per_trial: '2', max_concurrent: 2.5}\nbaselines: {mrpc: high}\n")
    err = assert_one_line_error(capsys, ["search", "--space", space, "--storage", str(tmp_path)], f"{space}: ")
    for part in ("search.max_trials must be an integer, got 'three'", "search.baseline_lrs must be a list of numbers",
                 "train.batch_size must be an integer, got '16'", "train.bf16 must be true or false, got 'yes'",
                 "data.max_train_samples must be an integer or null, got '100'",
                 "cpus_per_trial must be a number, got '2'", "max_concurrent must be an integer or null, got 2.5",
                 "baselines['mrpc'] = 'high' must be a number"):
        assert part in err
    assert "not supported between" not in err and "TypeError" not in err


def test_unknown_keys_are_reported_at_every_level_at_once(tmp_path, capsys, no_ray):
    space = write_space(tmp_path, "tasks: [mrpc]\nbogus: 1\ndata: {bogus_data: 1}\ntrain: {bogus_train: 1}\n"
                                  "search: {bogus_search: 1}\nresources: {bogus_resources: 1}\n")
    err = assert_one_line_error(capsys, ["search", "--space", space, "--storage", str(tmp_path)], "unknown")
    for section, key in (("top level", "bogus"), ("data", "bogus_data"), ("train", "bogus_train"),
                         ("search", "bogus_search"), ("resources", "bogus_resources")):
        assert f"unknown {section} setting(s) ['{key}']" in err


@pytest.mark.parametrize("section", ["tasks", "models", "checkpoints", "methods"])
def test_an_empty_list_is_an_error(section, tmp_path, capsys, no_ray):
    space = write_space(tmp_path, f"{section}: []\n")
    assert_one_line_error(capsys, ["search", "--space", space, "--storage", str(tmp_path)],
                          f"{space}: {section} is empty; give at least one")

