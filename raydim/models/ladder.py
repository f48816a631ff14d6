"""A local checkpoint ladder: a folder of checkpoint folders of one pre-training run.

``ckpts/step1000/``, ``ckpts/step2000/``, ... each hold a model as ``save_pretrained``
writes it (config, weights, tokenizer). ``--model ckpts --checkpoint step1000`` (or
``--model ckpts@step1000``) picks one, the way a hub revision picks a hub checkpoint,
so d90 along a run saved on disk is searched like Pythia's revisions. The checkpoints
must share one architecture: a d90 curve over different models is not a ladder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from raydim.errors import RaydimError
from raydim.models.checkpoints import RANDOM_INIT, by_step, few

# config.json entries that say how a checkpoint was saved, not what the model is
_NOT_ARCHITECTURE = {"_name_or_path", "_commit_hash", "transformers_version", "torch_dtype", "dtype", "architectures",
                     "id2label", "label2id", "num_labels", "problem_type", "finetuning_task"}


@dataclass(frozen=True)
class Ladder:
    """The checkpoints of a ladder folder, ``(name, folder)`` in pre-training order."""

    path: Path
    checkpoints: tuple[tuple[str, Path], ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.checkpoints]

    def folder(self, checkpoint: str | None) -> Path:
        """The folder to load ``checkpoint`` from; random-init takes the architecture (and tokenizer) of the first."""
        if checkpoint == RANDOM_INIT:
            return self.checkpoints[0][1]
        for name, folder in self.checkpoints:
            if name == checkpoint:
                return folder
        if checkpoint in (None, "final"):
            first = self.names[0]
            raise RaydimError(f"model folder {str(self.path)!r} is a ladder of checkpoints ({few(self.names)}); "
                              f"name the ones to use, e.g. --checkpoint {first} (or {self.path}@{first})")
        raise RaydimError(f"checkpoint ladder {str(self.path)!r} has no checkpoint {checkpoint!r}; "
                          f"it has {few(self.names)}")


def find_ladder(path: Path) -> Ladder:
    """The ladder at ``path`` (a folder without a config.json of its own), checked to hold one architecture."""
    folders = {p.name: p.resolve() for p in path.iterdir() if p.is_dir() and (p / "config.json").is_file()}
    if not folders:
        raise RaydimError(f"model directory {str(path)!r} has no config.json, nor checkpoint folders with one; "
                          "pass a Hugging Face model folder, or a ladder of them (DIR/step1000/config.json, ...)")
    names = by_step(folders)
    _check_one_architecture(path, [(name, folders[name]) for name in names])
    return Ladder(path, tuple((name, folders[name]) for name in names))


def _check_one_architecture(path: Path, checkpoints: list[tuple[str, Path]]) -> None:
    def architecture(folder: Path) -> dict:
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RaydimError(f"cannot read {folder / 'config.json'} ({e}); is the checkpoint whole?") from None
        return {k: v for k, v in config.items() if k not in _NOT_ARCHITECTURE}

    first_name, first = checkpoints[0][0], architecture(checkpoints[0][1])
    for name, folder in checkpoints[1:]:
        other = architecture(folder)
        for key in sorted(first.keys() | other.keys()):
            if first.get(key) != other.get(key):
                raise RaydimError(
                    f"checkpoint ladder {str(path)!r} mixes architectures: {first_name} has {key}={first.get(key)!r}, "
                    f"{name} has {key}={other.get(key)!r}; keep the checkpoints of one model in a ladder folder")
