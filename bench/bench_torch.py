#!/usr/bin/env python3
"""Forward + CE + backward tokens/s of a PyTorch model of the same shape and maths as aha's model
(docs/model.md), float32 — the baseline bench/run.sh compares against.

It is written the way a PyTorch user would write it for speed, not as the test twin
(tests/reference/model_ref.py runs every expert on every token to stay simple): the routed experts
gather their tokens as Hugging Face's DeepseekV3MoE does (torch.where over the one-hot routing,
index_select, one matmul per expert and projection, index_add_ of the gated outputs), nn.Linear-style
weights in single tensors per matrix, and the sequence balance loss vectorised.

Usage: /usr/bin/python3 bench/bench_torch.py PRESET B T ITERS THREADS
PRESET: default | grpo (see bench/model_bench.c). Prints "torch_train_tokens_per_s N" (best step)."""
import math
import sys
import time

import torch
import torch.nn.functional as F

PRESETS = {
    "default": dict(V=105, D=128, L=2, nh=4, E=8, S=1, K=2, H=128),
    "grpo": dict(V=64, D=128, L=4, nh=4, E=8, S=1, K=2, H=128),
}
EPS, THETA, ALPHA = 1e-5, 10000.0, 1e-3


class MoEModel:
    def __init__(self, c, T):
        g = torch.Generator().manual_seed(0)
        D, E, H, S, V, L = c["D"], c["E"], c["H"], c["S"], c["V"], c["L"]

        def w(*shape, std=0.02):
            return (torch.randn(*shape, generator=g) * std).requires_grad_(True)

        self.c = c
        self.emb = w(V, D)
        self.layers = []
        for _ in range(L):
            self.layers.append(dict(
                n1=torch.ones(D, requires_grad=True), wq=w(D, D), wk=w(D, D), wv=w(D, D), wo=w(D, D),
                n2=torch.ones(D, requires_grad=True), router=w(E, D),
                sh1=w(S * H, D), sh3=w(S * H, D), sh2=w(D, S * H),
                ex1=[w(H, D) for _ in range(E)], ex3=[w(H, D) for _ in range(E)],
                ex2=[w(D, H) for _ in range(E)], bias=torch.zeros(E)))
        self.nf = torch.ones(D, requires_grad=True)
        self.head = w(V, D)
        hd = D // c["nh"]
        inv = 1.0 / (THETA ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang), torch.sin(ang)
        self.mask = torch.ones(T, T, dtype=torch.bool).triu(1)

    def params(self):
        out = [self.emb, self.nf, self.head]
        for ly in self.layers:
            for k, v in ly.items():
                if k == "bias":
                    continue
                out.extend(v if isinstance(v, list) else [v])
        return out

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w

    def rope(self, x):  # [B, nh, T, hd]
        h = x.shape[-1] // 2
        x1, x2 = x[..., :h], x[..., h:]
        return torch.cat([x1 * self.cos - x2 * self.sin, x2 * self.cos + x1 * self.sin], -1)

    def moe(self, ly, f):  # f [N, D]
        c = self.c
        E, K = c["E"], c["K"]
        s = torch.sigmoid(F.linear(f, ly["router"]))
        ids = torch.topk((s + ly["bias"]).detach(), K, dim=-1).indices
        gates = s.gather(-1, ids)
        gates = gates / gates.sum(-1, keepdim=True)
        out = F.linear(F.silu(F.linear(f, ly["sh1"])) * F.linear(f, ly["sh3"]), ly["sh2"])
        mask = F.one_hot(ids, E).permute(2, 0, 1)  # [E, N, K]
        for e in range(E):  # Hugging Face DeepseekV3MoE.moe
            tok, slot = torch.where(mask[e])
            if tok.numel() == 0:
                continue
            xe = f[tok]
            ye = F.linear(F.silu(F.linear(xe, ly["ex1"][e])) * F.linear(xe, ly["ex3"][e]), ly["ex2"][e])
            out.index_add_(0, tok, ye * gates[tok, slot].unsqueeze(-1))
        return out, s, ids

    def loss(self, tokens, targets):
        c = self.c
        B, T = tokens.shape
        D, nh, E, K = c["D"], c["nh"], c["E"], c["K"]
        hd = D // nh
        x = self.emb[tokens].view(B * T, D)
        aux = 0.0
        for ly in self.layers:
            a = self.rms(x, ly["n1"])
            q = self.rope(F.linear(a, ly["wq"]).view(B, T, nh, hd).transpose(1, 2))
            k = self.rope(F.linear(a, ly["wk"]).view(B, T, nh, hd).transpose(1, 2))
            v = F.linear(a, ly["wv"]).view(B, T, nh, hd).transpose(1, 2)
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(self.mask, float("-inf")).softmax(-1)
            o = (att @ v).transpose(1, 2).reshape(B * T, D)
            x = x + F.linear(o, ly["wo"])
            y, s, ids = self.moe(ly, self.rms(x, ly["n2"]))
            x = x + y
            # sequence balance loss: alpha / B * sum_b sum_i f_i P_i
            sn = (s / s.sum(-1, keepdim=True)).view(B, T, E)
            cnt = F.one_hot(ids, E).view(B, T * K, E).sum(1).to(s.dtype)  # [B, E]
            aux = aux + ALPHA / B * ((cnt * E / (K * T)) * sn.mean(1)).sum()
        logits = F.linear(self.rms(x, self.nf), self.head)
        return F.cross_entropy(logits, targets.view(-1)) + aux


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: bench_torch.py PRESET B T ITERS THREADS")
    name, B, T, iters, threads = sys.argv[1], *map(int, sys.argv[2:])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = MoEModel(PRESETS[name], T)
    params = m.params()
    tokens = torch.randint(0, m.c["V"], (B, T))
    targets = torch.randint(0, m.c["V"], (B, T))
    best = float("inf")
    for it in range(iters + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        for p in params:
            p.grad = None
        m.loss(tokens, targets).backward()
        dt = time.perf_counter() - t0
        if it > 0:
            best = min(best, dt)
    print(f"torch_train_tokens_per_s {B * T / best:.0f}")


if __name__ == "__main__":
    main()
