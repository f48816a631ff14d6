"""The training loop on a tiny model and a learnable synthetic task."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from raydim.cli import main
from raydim.data.spec import DataSpec
from raydim.errors import RaydimError
from raydim.models import load_model, parse_model_ref
from raydim.train import TrainConfig, train
import raydim.train.loop
from raydim.train.loop import EpochMetrics, TrainingDiverged, collapse, lr_at, prior_entropy
from tests.tiny import write_sentiment_task, write_tiny_model_dir


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, DataSpec]:
    root = tmp_path_factory.mktemp("tiny")
    train_file, eval_file = write_sentiment_task(root / "data")
    model = str(write_tiny_model_dir(root / "model"))
    return model, DataSpec(task="sentiment", train_file=str(train_file), eval_file=str(eval_file),
                           text_columns=("text",))


def _config(setup, **overrides) -> TrainConfig:
    model, data = setup
    values = dict(data=data, model=model, method="said", d=32, lr=0.3, normalization="global", epochs=3,
                  batch_size=16, max_length=16, warmup_ratio=0.0)
    return TrainConfig(**{**values, **overrides})


def test_said_learns_a_synthetic_task_at_small_d(setup) -> None:
    result = train(_config(setup), progress=False)
    assert result.num_trainable == 32
    model = load_model(parse_model_ref(setup[0]), 2)
    assert result.D == sum(p.numel() for p in model.parameters())  # counted before the subspace froze them
    assert result.best.metrics["validation/accuracy"] >= 0.95


def test_full_fine_tune_learns_too(setup) -> None:
    result = train(_config(setup, method="full", d=None, lr=3e-2), progress=False)
    assert result.num_trainable == result.D
    assert result.best.metrics["validation/accuracy"] >= 0.9


@pytest.mark.parametrize("group_by_length", [False, True])
def test_resume_matches_uninterrupted(setup, group_by_length) -> None:
    config = _config(setup, method="did", epochs=2, group_by_length=group_by_length)
    uninterrupted = train(config, progress=False)
    states = []
    first = train(config, progress=False,
                  on_epoch=lambda metrics, state: states.append(state()) if metrics.epoch == 1 else None)
    resumed = train(config, resume=states[0], progress=False)
    assert [e.metrics for e in resumed.history] == [e.metrics for e in uninterrupted.history]
    assert first.history[0].metrics == resumed.history[0].metrics


def test_resume_refuses_a_checkpoint_of_other_settings(setup) -> None:
    states = []
    train(_config(setup, epochs=1), progress=False, on_epoch=lambda m, state: states.append(state()))
    with pytest.raises(RaydimError, match="other settings"):
        train(_config(setup, epochs=1, lr=0.01), resume=states[0], progress=False)


def test_metrics_cover_train_and_eval(setup) -> None:
    result = train(_config(setup, epochs=1), progress=False)
    assert set(result.final.metrics) == {"validation/accuracy", "validation/f1", "validation/loss",
                                         "train/accuracy", "train/f1", "train/loss"}
    assert result.final.primary == result.final.metrics["validation/accuracy"]


def test_lr_schedule_warms_up_then_decays() -> None:
    assert [round(lr_at(s, total=10, warmup=2), 3) for s in range(10)] == [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5,
                                                                           0.375, 0.25, 0.125]


def test_config_errors_are_collected() -> None:
    with pytest.raises(RaydimError, match="needs the subspace dimension.*epochs must be positive.*lr must be a positive"):
        TrainConfig(method="said", epochs=0, lr=-1.0)
    with pytest.raises(RaydimError, match="lr must be a positive number, got inf"):
        TrainConfig(method="full", lr=float("inf"))
    with pytest.raises(RaydimError, match="unknown method 'lora'"):
        TrainConfig(method="lora")
    with pytest.raises(RaydimError, match="group_by_length must be true or false, got 'maybe'"):
        TrainConfig(method="full", group_by_length="maybe")


def test_default_subspace_lr_falls_like_one_over_sqrt_d() -> None:
    assert TrainConfig(method="said", d=10_000).learning_rate == pytest.approx(0.1)
    assert TrainConfig(method="did", d=100).learning_rate == pytest.approx(1.0)
    assert TrainConfig(method="said", d=100, lr=0.3).learning_rate == 0.3
    assert TrainConfig(method="full").learning_rate == 1e-4


def test_options_added_later_keep_old_hashes_at_their_default(setup) -> None:
    config = _config(setup)
    old_style = {k: v for k, v in config.to_dict().items() if k not in ("device", "eval_batch_size", "group_by_length")}
    assert config.settings_hash() == hashlib.sha256(json.dumps(old_style, sort_keys=True, default=str).encode()
                                                    ).hexdigest()[:16]
    assert _config(setup, group_by_length=True).settings_hash() != config.settings_hash()


def test_config_round_trips_through_a_plain_dict(setup) -> None:
    config = _config(setup)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.settings_hash() == _config(setup, device="cpu").settings_hash() != _config(setup, d=65).settings_hash()


def test_raydim_train_cli(setup, tmp_path: Path, capsys) -> None:
    model, data = setup
    output = tmp_path / "result.json"
    code = main(["train", "--task", "sentiment", "--model", model, "--method", "said", "--d", "32", "--lr", "0.3",
                 "--epochs", "2", "--batch-size", "16", "--max-length", "16", "--train-file", data.train_file,
                 "--eval-file", data.eval_file, "--text-columns", "text", "--quiet", "--output", str(output),
                 "--group-by-length"])
    out = capsys.readouterr().out
    assert code == 0
    assert "said d=32 (trainable 32 of D=" in out and "sentiment: accuracy best" in out
    saved = json.loads(output.read_text())
    assert saved["config"]["group_by_length"] is True
    assert saved["best"]["primary"] == max(e["primary"] for e in saved["history"])


def test_raydim_train_bad_input_is_one_line(capsys, tmp_path: Path) -> None:
    assert main(["train", "--method", "said"]) == 2
    assert "needs the subspace dimension: pass --d" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["train", "--d", "100", "--output", str(tmp_path / "file" / "result.json")]) == 2
    assert "cannot be written" in capsys.readouterr().err  # refused before any training
    assert main(["train", "--d", "100", "--output", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_on_start_sees_the_run_before_its_first_epoch(setup):
    seen = []
    result = train(_config(setup, epochs=1), progress=False,
                   on_start=lambda run: seen.append((run.D, run.num_trainable, run.train_size, len(run.history))),
                   on_epoch=lambda metrics, state: seen.append(metrics.epoch))
    assert seen == [(result.D, result.num_trainable, result.train_size, 0), 1]


def test_a_loss_gone_nan_stops_the_run_with_a_clear_error(setup, monkeypatch):
    """NaN parameters would go on "training" and score the majority class; the run must stop and say why."""
    step = raydim.train.loop.train_step
    calls = []

    def diverging_step(*args, **kwargs):
        calls.append(step(*args, **kwargs))
        return float("nan") if len(calls) == 3 else calls[-1]

    monkeypatch.setattr(raydim.train.loop, "train_step", diverging_step)
    epochs = []
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 3 \(epoch 1\) of said at lr=0.3; lower"):
        train(_config(setup), progress=False, on_epoch=lambda metrics, state: epochs.append(metrics))
    assert len(calls) == 3 and not epochs  # stopped at once: no further steps, no epoch reported


def test_a_run_back_at_the_label_prior_after_it_learned_stops_with_a_clear_error(setup, monkeypatch):
    """Its best epoch would read as what d can do; it is what a too-high learning rate left before wrecking the run."""
    step, calls, sizes, epochs = raydim.train.loop.train_step, [], [], []

    def learn_then_forget(*args, **kwargs):
        step(*args, **kwargs)
        calls.append(1)
        return 0.3 if len(calls) <= math.ceil(sizes[0] / 16) else 0.75  # epoch 1 learns, epoch 2 predicts the prior

    monkeypatch.setattr(raydim.train.loop, "train_step", learn_then_forget)
    with pytest.raises(TrainingDiverged, match=r"^the training loss became 0.7500 at epoch 2, no better than predicting "
                                               r"the label prior .* after 0.3000 at epoch 1: the run collapsed to the "
                                               r"trivial predictor \(of said at lr=0.3\); lower the learning rate$"):
        train(_config(setup), progress=False, on_start=lambda run: sizes.append(run.train_size),
              on_epoch=lambda metrics, state: epochs.append(metrics.epoch))
    assert epochs == [1]  # the collapsed epoch is not reported: no checkpoint of a wrecked run


def epoch(n: int, loss: float) -> EpochMetrics:
    return EpochMetrics(epoch=n, step=250 * n, train_loss=loss, metrics={}, primary=0.5, seconds=1.0)


def test_collapse_is_a_return_to_the_label_prior_after_learning():
    sst2 = prior_entropy({"negative": 3591, "positive": 4409})  # the 8,000 SST-2 rows of the study (data seed 0)
    assert sst2 == pytest.approx(0.6879, abs=1e-4) and prior_entropy({"a": 5, "b": 5}) == pytest.approx(math.log(2))
    # MPNet SAID, d = 100, lr 1.0 on SST-2: the stored trial's epoch losses
    assert "collapsed" in collapse([epoch(1, 0.5775), epoch(2, 0.6930)], sst2)
    assert "at epoch 3" in collapse([epoch(1, 0.5775), epoch(2, 0.5800), epoch(3, 0.6901)], sst2)
    assert collapse([epoch(1, 0.5775)], sst2) is None  # one epoch: nothing to fall from
    assert collapse([epoch(1, 0.40), epoch(2, 0.45)], sst2) is None  # worse, still learned
    assert collapse([epoch(1, 0.6840), epoch(2, 0.6900)], sst2) is None  # never learned: d's fault, or the model's
    assert collapse([epoch(1, 0.5775), epoch(2, 0.6930)], None) is None  # regression: no label prior
    assert prior_entropy({}) is None
