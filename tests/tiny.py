"""Tiny models and a learnable synthetic task, so engine tests run in seconds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer


POSITIVE = ["good", "great", "fine", "nice", "happy"]
NEGATIVE = ["bad", "awful", "poor", "sad", "wrong"]
FILLER = ["the", "a", "movie", "was", "really", "film", "story", "it", "quite", "very", "and", "plot"]


def tiny_bert_config(vocab_size: int, hidden: int = 16) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=2 * hidden, max_position_embeddings=64)


def tiny_model(vocab_size: int = 100, num_labels: int = 2, seed: int = 0) -> BertForSequenceClassification:
    """About 3,000 parameters: small enough to build P as an explicit matrix."""
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=32, num_labels=num_labels)
    return BertForSequenceClassification(config)


def _sentence(rng: random.Random, word: str) -> str:
    """Five filler words with ``word`` at a random position."""
    words = rng.sample(FILLER, 5)
    words.insert(rng.randrange(6), word)
    return " ".join(words)


def write_tiny_model_dir(path: Path, seed: int = 0, pretrain_steps: int = 300) -> Path:
    """A 2-layer, hidden-16 BERT body with a word-level tokenizer over the synthetic words, as a model folder.

    Like a real pretrained checkpoint it is saved without a classification head, and
    it is "pre-trained" first: a full fine-tune on a related task (which of the ten
    sentiment words a sentence holds) gives it features from which the sentiment
    task is a low-dimensional step, the property subspace fine-tuning relies on.
    ``pretrain_steps=0`` leaves it randomly initialised.
    """
    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER]
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(vocab)})
    tokenizer.save_pretrained(path)
    torch.manual_seed(seed)
    config = tiny_bert_config(vocab_size=len(vocab))
    config.num_labels = len(POSITIVE) + len(NEGATIVE)
    model = BertForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    rng = random.Random(seed)
    for _ in range(pretrain_steps):
        labels = [rng.randrange(config.num_labels) for _ in range(32)]
        texts = [_sentence(rng, (POSITIVE + NEGATIVE)[y]) for y in labels]
        loss = model(**tokenizer(texts, return_tensors="pt"), labels=torch.tensor(labels)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.bert.save_pretrained(path)  # the body only: fine-tuning starts from a new head
    return path


def write_sentiment_task(folder: Path, train_rows: int = 256, eval_rows: int = 128, seed: int = 0) -> tuple[Path, Path]:
    """JSONL files where the label is whether the one sentiment word in the sentence is positive."""
    rng = random.Random(seed)

    def rows(n: int) -> list[dict]:
        labels = [rng.randrange(2) for _ in range(n)]
        return [{"text": _sentence(rng, rng.choice(POSITIVE if y else NEGATIVE)), "label": "pos" if y else "neg"}
                for y in labels]

    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.jsonl", folder / "eval.jsonl"
    for path, n in zip(paths, (train_rows, eval_rows)):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows(n)))
    return paths
