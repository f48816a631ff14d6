"""A real pre-training ladder, made in seconds: a tiny decoder (causal LM) and a tiny encoder (masked LM)
pre-trained on MRPC and SST-2 text, each saved at several steps as ``ladder/stepN/``.

The models are tiny (hidden 32, two layers, vocabularies of a few hundred tokens
trained on the same text) so a few hundred steps take seconds on one CPU thread;
the ladder is for exercising d90 along pre-training end to end, not for its numbers.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
import transformers

from raydim.data import load_task_data
from tests.decoders import bpe_tokenizer, wordpiece_tokenizer

HIDDEN, LAYERS, BLOCK = 32, 2, 32


def glue_sentences(glue_dir: Path, per_task: int = 2000) -> list[str]:
    """Train-split text of MRPC (both sentences) and SST-2, ``per_task`` rows of each."""
    texts = []
    for task in ("mrpc", "sst2"):
        data = load_task_data(task, data_dir=str(glue_dir), max_train_samples=per_task)
        for field in data.task.text_fields:
            texts += data.splits[data.task.train_split][field]
    return texts


def _train(model: torch.nn.Module, batches, folder: Path, tokenizer, save_at: tuple[int, ...], lr: float) -> None:
    """AdamW over ``batches`` (a function of the step), saving model and tokenizer at each step in ``save_at``."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only wait for each other (minutes on a busy machine)
    try:
        for step in range(1, max(save_at) + 1):
            model(**batches(step)).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if step in save_at:
                model.save_pretrained(folder / f"step{step}")
                tokenizer.save_pretrained(folder / f"step{step}")
    finally:
        torch.set_num_threads(threads)


def pretrain_decoder(folder: Path, texts: list[str], save_at: tuple[int, ...], seed: int = 0) -> Path:
    """GPT-2 shaped, next-token prediction over the text packed into blocks of 32 tokens (EOS between rows)."""
    tokenizer = bpe_tokenizer(texts, vocab_size=400)
    ids = [i for text in texts for i in (*tokenizer(text)["input_ids"], tokenizer.eos_token_id)]
    blocks = torch.tensor(ids[: len(ids) // BLOCK * BLOCK]).view(-1, BLOCK)  # (blocks, 32)
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=len(tokenizer), n_embd=HIDDEN, n_layer=LAYERS, n_head=2,
                                     n_positions=64, bos_token_id=tokenizer.eos_token_id,
                                     eos_token_id=tokenizer.eos_token_id)
    generator = torch.Generator().manual_seed(seed)

    def batch(step: int) -> dict[str, torch.Tensor]:
        rows = blocks[torch.randint(len(blocks), (16,), generator=generator)]
        return {"input_ids": rows, "labels": rows}

    _train(transformers.GPT2LMHeadModel(config), batch, folder, tokenizer, save_at, lr=3e-3)
    return folder


def pretrain_encoder(folder: Path, texts: list[str], save_at: tuple[int, ...], seed: int = 0) -> Path:
    """BERT shaped, masked-token prediction (15% of tokens) over rows truncated to 32 tokens."""
    tokenizer = wordpiece_tokenizer(texts, vocab_size=600)
    encoded = [tokenizer(text, truncation=True, max_length=BLOCK) for text in texts]
    collator = transformers.DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="pt")
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                     num_attention_heads=2, intermediate_size=2 * HIDDEN, max_position_embeddings=64)
    rng = random.Random(seed)

    def batch(step: int) -> dict[str, torch.Tensor]:
        return collator(rng.sample(encoded, 16))

    _train(transformers.BertForMaskedLM(config), batch, folder, tokenizer, save_at, lr=3e-3)
    return folder
