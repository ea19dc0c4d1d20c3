"""PyTorch twin of aha's model (docs/model.md): DeepSeek-V3-style decoder with RMSNorm, rotate-half
RoPE, causal multi-head attention, SwiGLU, and MoE layers (shared + routed experts, sigmoid or
softmax scores, top-k chosen on scores + bias, optional routing replay, sequence balance loss).
Loads and saves aha checkpoints (model.safetensors + config.json). Run with /usr/bin/python3."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


class Config:
    def __init__(self, d):
        self.vocab_size = d["vocab_size"]
        self.dim = d["hidden_size"]
        self.n_layers = d["num_hidden_layers"]
        self.n_heads = d["num_attention_heads"]
        self.max_seq_len = d["max_position_embeddings"]
        self.ffn_hidden = d["intermediate_size"]
        self.n_dense_layers = d["first_k_dense_replace"]
        self.n_routed = d["n_routed_experts"]
        self.n_shared = d["n_shared_experts"]
        self.top_k = d["num_experts_per_tok"]
        self.moe_hidden = d["moe_intermediate_size"]
        self.sigmoid = d["scoring_func"] == "sigmoid"
        self.norm_topk = bool(d["norm_topk_prob"])
        self.routed_scale = d["routed_scaling_factor"]
        self.rope_theta = d["rope_theta"]
        self.eps = d["rms_norm_eps"]
        self.aux_alpha = d.get("aux_loss_alpha", 0.0)
        self.raw = d

    def is_moe(self, l):
        return self.n_routed > 0 and l >= self.n_dense_layers


def tensor_names(c):
    """(name, shape) in the parameter-buffer order of docs/model.md."""
    D, V = c.dim, c.vocab_size
    out = [("model.embed_tokens.weight", (V, D))]
    for l in range(c.n_layers):
        p = f"model.layers.{l}."
        out.append((p + "input_layernorm.weight", (D,)))
        for w in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out.append((p + f"self_attn.{w}.weight", (D, D)))
        out.append((p + "post_attention_layernorm.weight", (D,)))
        if c.is_moe(l):
            E, H, S = c.n_routed, c.moe_hidden, c.n_shared
            out.append((p + "mlp.gate.weight", (E, D)))
            if S > 0:
                out.append((p + "mlp.shared_experts.gate_proj.weight", (S * H, D)))
                out.append((p + "mlp.shared_experts.up_proj.weight", (S * H, D)))
                out.append((p + "mlp.shared_experts.down_proj.weight", (D, S * H)))
            for w, shape in (("gate_proj", (H, D)), ("up_proj", (H, D)), ("down_proj", (D, H))):
                for e in range(E):
                    out.append((p + f"mlp.experts.{e}.{w}.weight", shape))
        else:
            Fh = c.ffn_hidden
            out.append((p + "mlp.gate_proj.weight", (Fh, D)))
            out.append((p + "mlp.up_proj.weight", (Fh, D)))
            out.append((p + "mlp.down_proj.weight", (D, Fh)))
    out.append(("model.norm.weight", (D,)))
    out.append(("lm_head.weight", (V, D)))
    return out


def bias_name(l):
    return f"model.layers.{l}.mlp.gate.e_score_correction_bias"


class Model:
    """Parameters as a dict of leaf tensors (requires_grad) so gradients come out by name."""

    def __init__(self, cfg, params, biases, dtype=torch.float64):
        self.c = cfg
        self.p = {k: torch.tensor(v, dtype=dtype).requires_grad_(True) for k, v in params.items()}
        self.bias = {l: torch.tensor(v, dtype=dtype) for l, v in biases.items()}
        self.dtype = dtype

    @staticmethod
    def load(ckpt_dir, dtype=torch.float64):
        with open(os.path.join(ckpt_dir, "config.json")) as f:
            cfg = Config(json.load(f))
        tensors, _ = st.load(os.path.join(ckpt_dir, "model.safetensors"))
        params = {}
        for name, shape in tensor_names(cfg):
            t = tensors[name]
            assert tuple(t.shape) == shape, f"{name}: shape {t.shape} != {shape}"
            params[name] = t
        biases = {l: tensors[bias_name(l)] for l in range(cfg.n_layers) if cfg.is_moe(l)}
        return Model(cfg, params, biases, dtype)

    def save(self, ckpt_dir):
        os.makedirs(ckpt_dir, exist_ok=True)
        out = {}
        for name, _ in tensor_names(self.c):
            out[name] = self.p[name].detach().numpy().astype(np.float32)
            if name.endswith("mlp.gate.weight"):
                l = int(name.split(".")[2])
                out[bias_name(l)] = self.bias[l].numpy().astype(np.float32)
        st.save(os.path.join(ckpt_dir, "model.safetensors"), out, {"format": "pt"})
        with open(os.path.join(ckpt_dir, "config.json"), "w") as f:
            json.dump(self.c.raw, f, indent=2)

    # ---- blocks ----
    def rmsnorm(self, x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.c.eps) * w

    def rope(self, x):  # x [B, nh, T, hd]
        hd = x.shape[-1]
        half = hd // 2
        i = torch.arange(half, dtype=torch.float32)
        inv_freq = 1.0 / (torch.tensor(self.c.rope_theta, dtype=torch.float32) ** (2 * i / hd))
        t = torch.arange(x.shape[2], dtype=torch.float32)
        ang = t[:, None] * inv_freq[None, :]
        cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def swiglu(self, x, w1, w3, w2):
        return F.linear(F.silu(F.linear(x, w1)) * F.linear(x, w3), w2)

    def moe(self, l, f, valid, replay):
        """f [B, T, D]; valid [B, T] bool; replay [B, T, K] long or None.
        Returns (out, ids [B, T, K] with -1 at padding, aux loss)."""
        c, p = self.c, self.p
        pre = f"model.layers.{l}.mlp."
        B, T, D = f.shape
        E, K = c.n_routed, c.top_k
        z = F.linear(f, p[pre + "gate.weight"])
        s = torch.sigmoid(z) if c.sigmoid else torch.softmax(z, dim=-1)
        if replay is not None:
            ids = replay.clone()
        else:
            sel = (s + self.bias[l]).detach()
            # stable descending sort: ties -> lower expert id first
            order = torch.sort(-sel, dim=-1, stable=True).indices
            ids = order[..., :K]
        ids = torch.where(valid[..., None], ids, torch.zeros_like(ids))
        g = torch.gather(s, -1, ids)
        if c.norm_topk:
            g = g / g.sum(-1, keepdim=True)
        g = g * c.routed_scale
        out = torch.zeros_like(f)
        if c.n_shared > 0:
            out = out + self.swiglu(f, p[pre + "shared_experts.gate_proj.weight"],
                                    p[pre + "shared_experts.up_proj.weight"],
                                    p[pre + "shared_experts.down_proj.weight"])
        routed = torch.zeros_like(f)
        for e in range(E):
            y = self.swiglu(f, p[pre + f"experts.{e}.gate_proj.weight"], p[pre + f"experts.{e}.up_proj.weight"],
                            p[pre + f"experts.{e}.down_proj.weight"])
            w = (g * (ids == e).to(g.dtype)).sum(-1)  # [B, T]
            routed = routed + y * w[..., None]
        routed = routed * valid[..., None].to(f.dtype)
        out = out + routed
        ids_out = torch.where(valid[..., None], ids, torch.full_like(ids, -1))
        aux = f.new_zeros(())
        if c.aux_alpha > 0:
            sn = s / s.sum(-1, keepdim=True) if c.sigmoid else s
            vmask = valid.to(f.dtype)
            for b in range(B):
                Tb = int(valid[b].sum())
                if Tb == 0:
                    continue
                P = (sn[b] * vmask[b][:, None]).sum(0) / Tb
                cnt = torch.zeros(E, dtype=f.dtype)
                for t in range(Tb):
                    for k in range(K):
                        cnt[ids[b, t, k]] += 1
                fi = cnt * E / (K * Tb)
                aux = aux + (fi * P).sum()
            aux = c.aux_alpha * aux / B
        return out, ids_out, aux

    def forward(self, tokens, lengths, replay=None):
        """tokens [B, T] long, lengths [B]; replay [L, B, T, K] long or None.
        Returns logits [B, T, V], expert ids [L, B, T, K] (-1 dense/padding), aux loss."""
        c, p = self.c, self.p
        B, T = tokens.shape
        nh, hd = c.n_heads, c.dim // c.n_heads
        valid = torch.arange(T)[None, :] < lengths[:, None]
        x = p["model.embed_tokens.weight"][tokens]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        all_ids, aux = [], x.new_zeros(())
        for l in range(c.n_layers):
            pre = f"model.layers.{l}."
            a = self.rmsnorm(x, p[pre + "input_layernorm.weight"])

            def heads(w):
                return F.linear(a, p[pre + f"self_attn.{w}.weight"]).view(B, T, nh, hd).transpose(1, 2)
            q, k, v = self.rope(heads("q_proj")), self.rope(heads("k_proj")), heads("v_proj")
            att = (q @ k.transpose(-1, -2)) / (hd ** 0.5)
            att = att.masked_fill(~causal, float("-inf")).softmax(-1)
            o = (att @ v).transpose(1, 2).reshape(B, T, c.dim)
            x = x + F.linear(o, p[pre + "self_attn.o_proj.weight"])
            f = self.rmsnorm(x, p[pre + "post_attention_layernorm.weight"])
            if c.is_moe(l):
                y, ids, la = self.moe(l, f, valid, None if replay is None else replay[l])
                aux = aux + la
            else:
                y = self.swiglu(f, p[pre + "mlp.gate_proj.weight"], p[pre + "mlp.up_proj.weight"],
                                p[pre + "mlp.down_proj.weight"])
                ids = torch.full((B, T, max(c.top_k, 1)), -1, dtype=torch.long)
            all_ids.append(ids)
            x = x + y
        logits = F.linear(self.rmsnorm(x, p["model.norm.weight"]), p["lm_head.weight"])
        return logits, torch.stack(all_ids), aux


def ce_loss(logits, targets):
    mask = targets >= 0
    lp = torch.log_softmax(logits, -1)
    nll = -lp.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
    return (nll * mask).sum() / mask.sum().clamp(min=1)
