"""Tiny decoders and encoders saved as published checkpoints are, with tokenizers trained on GLUE-like text.

A decoder checkpoint here is what GPT-2's or Pythia's is: causal-LM weights and a
byte-level BPE tokenizer whose only special token is ``<|endoftext|>`` (no pad
token), and a config without ``pad_token_id``. An encoder checkpoint is a BERT body
with a WordPiece tokenizer. Both tokenizers are trained in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import BertTokenizer, PretrainedConfig, PreTrainedTokenizerFast

EOS = "<|endoftext|>"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SENTENCES = ["the movie was good and the plot was great", "a bad film , really awful", "it was fine",
             "nothing happened in the story , quite sad", "a happy ending to a long film"]


def bpe_tokenizer(texts: Iterable[str], vocab_size: int = 320) -> PreTrainedTokenizerFast:
    """A GPT-2-style byte-level BPE tokenizer: EOS only, no pad token, no BOS added."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS)


def wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 600) -> BertTokenizer:
    """A BERT-style uncased WordPiece tokenizer: [CLS] a [SEP] b [SEP], [PAD] and [MASK]."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=BERT_SPECIALS,
                                                                   show_progress=False))
    return BertTokenizer(vocab=tokenizer.get_vocab())


FAMILIES = ("gpt2", "gpt-neox", "llama", "qwen2", "gemma")


def decoder_config(family: str, vocab_size: int, eos_id: int, hidden: int = 16, layers: int = 2,
                   tie: bool = False) -> PretrainedConfig:
    """A tiny config of a decoder family, without a pad token id (as GPT-2's and Pythia's ship)."""
    ids = dict(vocab_size=vocab_size, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=None,
               tie_word_embeddings=tie)
    common = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden,
                  max_position_embeddings=64, **ids)
    if family == "gpt2":
        return transformers.GPT2Config(n_embd=hidden, n_layer=layers, n_head=2, n_positions=64, **ids)
    if family == "gpt-neox":
        return transformers.GPTNeoXConfig(rotary_pct=0.25, use_parallel_residual=True, **common)
    if family == "llama":
        return transformers.LlamaConfig(num_key_value_heads=2, **common)
    if family == "qwen2":
        return transformers.Qwen2Config(num_key_value_heads=1, **common)
    if family == "gemma":
        return transformers.GemmaConfig(num_key_value_heads=1, head_dim=hidden // 2, **common)
    raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")


def write_decoder(folder: Path, family: str, tokenizer: PreTrainedTokenizerFast, seed: int = 0,
                  tie: bool = False) -> Path:
    """A freshly initialised causal LM of ``family`` and its tokenizer, saved as a hub checkpoint is."""
    torch.manual_seed(seed)
    config = decoder_config(family, len(tokenizer), tokenizer.eos_token_id, tie=tie)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
