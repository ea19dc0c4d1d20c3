#!/usr/bin/env python3
"""Forward+backward tokens/s of the PyTorch reference (tests/reference/model_ref.py) on the default
aha config, float32, one thread — the baseline bench/run.sh compares the C model against.
Usage: /usr/bin/python3 bench/bench_torch.py [B T iters]"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from model_ref import Config, Model, ce_loss, tensor_names  # noqa: E402

DEFAULT = {"model_type": "aha_moe", "vocab_size": 105, "hidden_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "max_position_embeddings": 128, "intermediate_size": 256,
           "first_k_dense_replace": 0, "n_routed_experts": 8, "n_shared_experts": 1,
           "num_experts_per_tok": 2, "moe_intermediate_size": 128, "scoring_func": "sigmoid",
           "norm_topk_prob": True, "routed_scaling_factor": 1.0, "rope_theta": 10000.0,
           "rms_norm_eps": 1e-5, "bias_update_speed": 0.001, "aux_loss_alpha": 0.0}


def main():
    B, T, iters = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (16, 64, 10)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = Config(DEFAULT)
    params = {n: (torch.randn(s) * 0.02 + (1.0 if len(s) == 1 else 0.0)).numpy() for n, s in tensor_names(cfg)}
    biases = {l: torch.zeros(cfg.n_routed).numpy() for l in range(cfg.n_layers)}
    m = Model(cfg, params, biases, dtype=torch.float32)
    tokens = torch.randint(0, cfg.vocab_size, (B, T))
    lengths = torch.full((B,), T)
    targets = torch.roll(tokens, -1, 1)
    for it in range(iters + 2):
        if it == 2:
            t0 = time.perf_counter()
        logits, _, aux = m.forward(tokens, lengths)
        loss = ce_loss(logits, targets) + aux
        for p in m.p.values():
            p.grad = None
        loss.backward()
    dt = time.perf_counter() - t0
    print(f"torch_fwd_bwd_tokens_per_s {B * T * iters / dt:.0f}")


if __name__ == "__main__":
    main()
