#!/usr/bin/env python3
"""Generates tests/fixtures/{moe_sigmoid,moe_softmax,dense}/: a checkpoint with random weights
(model.safetensors + config.json) and expected.safetensors with the PyTorch reference's logits,
losses, routing record and the gradient of every parameter (float64 maths on the float32 weights).
Usage: /usr/bin/python3 tests/reference/gen_fixtures.py [OUTDIR]"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from model_ref import Config, Model, bias_name, ce_loss, tensor_names  # noqa: E402

VOCAB = 105  # model/tokenizer.h AHA_TOK_VOCAB


def config(**kw):
    d = {"model_type": "aha_moe", "vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 3,
         "num_attention_heads": 4, "max_position_embeddings": 32, "intermediate_size": 48,
         "first_k_dense_replace": 1, "n_routed_experts": 4, "n_shared_experts": 1,
         "num_experts_per_tok": 2, "moe_intermediate_size": 16, "scoring_func": "sigmoid",
         "norm_topk_prob": True, "routed_scaling_factor": 1.5, "rope_theta": 10000.0,
         "rms_norm_eps": 1e-5, "bias_update_speed": 0.001, "aux_loss_alpha": 0.01}
    d.update(kw)
    return d


FIXTURES = {
    "moe_sigmoid": config(),
    "moe_softmax": config(scoring_func="softmax", norm_topk_prob=False, routed_scaling_factor=1.0,
                          n_shared_experts=2, first_k_dense_replace=0),
    "dense": config(n_routed_experts=0, num_hidden_layers=2, first_k_dense_replace=0, aux_loss_alpha=0.0),
    # as long as a 5-digit carry trace (~70 tokens), right-padded rows of four lengths like a
    # pretraining batch, softmax router + sequence aux loss as in the learning-parity runs
    "moe_long": config(max_position_embeddings=128, num_hidden_layers=2, first_k_dense_replace=0,
                       n_routed_experts=8, scoring_func="softmax", norm_topk_prob=True,
                       routed_scaling_factor=1.0),
}

# (batch rows, sequence length, row lengths) per fixture; the rest use the short default
SHAPES = {"moe_long": (4, 96, [96, 73, 41, 12])}


def make(name, d, outdir, seed):
    g = torch.Generator().manual_seed(seed)
    cfg = Config(d)
    params = {}
    for tname, shape in tensor_names(cfg):
        w = torch.randn(shape, generator=g, dtype=torch.float64) * 0.1
        if len(shape) == 1:
            w = w + 1.0
        params[tname] = w.float().numpy()
    biases = {l: (torch.randn(cfg.n_routed, generator=g, dtype=torch.float64) * 0.1).float().numpy()
              for l in range(cfg.n_layers) if cfg.is_moe(l)}
    m = Model(cfg, params, biases)
    ck = os.path.join(outdir, name)
    m.save(ck)
    m = Model.load(ck)  # compute on exactly what was written
    B, T, lens = SHAPES.get(name, (3, 16, [16, 11, 6]))
    lengths = torch.tensor(lens)
    tokens = torch.randint(0, VOCAB, (B, T), generator=g)
    for b in range(B):
        tokens[b, lengths[b]:] = 0
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b in range(B):
        targets[b, :lengths[b] - 1] = tokens[b, 1:lengths[b]]
    logits, ids, aux = m.forward(tokens, lengths)
    ce = ce_loss(logits, targets)
    loss = ce + aux
    loss.backward()
    out = {"tokens": tokens.numpy().astype(np.int32), "lengths": lengths.numpy().astype(np.int32),
           "targets": targets.numpy().astype(np.int32), "logits": logits.detach().float().numpy(),
           "ce_loss": np.array([ce.item()], np.float32), "aux_loss": np.array([float(aux)], np.float32),
           "loss": np.array([loss.item()], np.float32), "expert_ids": ids.numpy().astype(np.int32)}
    for tname, _ in tensor_names(cfg):
        out["grad." + tname] = m.p[tname].grad.float().numpy()
    st.save(os.path.join(ck, "expected.safetensors"), out)
    print(f"{name}: loss {loss.item():.6f} (ce {ce.item():.6f} aux {float(aux):.6f})")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    for i, (name, d) in enumerate(FIXTURES.items()):
        make(name, d, outdir, 1000 + i)


if __name__ == "__main__":
    main()
