#!/usr/bin/env python3
"""Writes tests/fixtures/pg_loss.safetensors: the GRPO-family losses of learner/pg_loss.h computed
with PyTorch autograd (float64), for learner/pg_loss_test.c. Run with /usr/bin/python3."""
import sys
import numpy as np
import torch
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from gen_adamw_fixture import save

def pg_loss(kind, lp, old, ref, adv, starts, beta, max_len):
    n_seq = len(starts) - 1
    n_tok = starts[-1]
    eps_low, eps_high = 0.2, (0.28 if kind == "dapo" else 0.2)
    total = lp.new_zeros(())
    if kind == "gspo":
        for i in range(n_seq):
            s, e = starts[i], starts[i + 1]
            sr = torch.exp((lp[s:e] - old[s:e]).mean())
            total = total - torch.min(sr * adv[i], torch.clamp(sr, 1 - 3e-4, 1 + 4e-4) * adv[i]) / n_seq
    else:
        for i in range(n_seq):
            s, e = starts[i], starts[i + 1]
            r = torch.exp(lp[s:e] - old[s:e])
            surr = -torch.min(r * adv[i], torch.clamp(r, 1 - eps_low, 1 + eps_high) * adv[i])
            if kind == "grpo": total = total + surr.sum() / ((e - s) * n_seq)
            elif kind == "dapo": total = total + surr.sum() / n_tok
            else: total = total + surr.sum() / (n_seq * max_len)
    for i in range(n_seq):
        s, e = starts[i], starts[i + 1]
        x = ref[s:e] - lp[s:e]
        k3 = torch.exp(x) - x - 1
        if kind == "dapo": total = total + beta * k3.sum() / n_tok
        elif kind == "dr_grpo": total = total + beta * k3.sum() / (n_seq * max_len)
        else: total = total + beta * k3.sum() / ((e - s) * n_seq)
    return total

def off_policy_loss(mode, kind, lp, old, prox, adv, starts, max_len, cap=2.0):
    """learner/pg_loss.h off-policy corrections (no KL): tis = truncated IS policy gradient,
    decoupled = AReaL's clip against the proximal policy weighted by proximal / behaviour."""
    n_seq = len(starts) - 1
    n_tok = starts[-1]
    eps_low, eps_high = 0.2, (0.28 if kind == "dapo" else 0.2)
    total = lp.new_zeros(())
    for i in range(n_seq):
        s, e = starts[i], starts[i + 1]
        if mode == "tis":
            r = torch.exp(lp[s:e] - old[s:e])
            w = (torch.clamp(r, max=cap) / r).detach()
            surr = -(w * r * adv[i])
        else:
            q = torch.exp(lp[s:e] - prox[s:e])
            w = torch.exp(prox[s:e] - old[s:e])
            surr = -w * torch.min(q * adv[i], torch.clamp(q, 1 - eps_low, 1 + eps_high) * adv[i])
        if kind == "grpo": total = total + surr.sum() / ((e - s) * n_seq)
        elif kind == "dapo": total = total + surr.sum() / n_tok
        else: total = total + surr.sum() / (n_seq * max_len)
    return total

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/pg_loss.safetensors"
    g = torch.Generator().manual_seed(7)
    lens = [3, 9, 1, 6, 4, 7]
    starts = [0]
    for n in lens: starts.append(starts[-1] + n)
    n_tok = starts[-1]
    lp = (-torch.rand(n_tok, generator=g, dtype=torch.float64) * 3).float().double()
    old = (lp + torch.randn(n_tok, generator=g, dtype=torch.float64) * 0.3).float().double()
    ref = (lp + torch.randn(n_tok, generator=g, dtype=torch.float64) * 0.2).float().double()
    adv = torch.randn(len(lens), generator=g, dtype=torch.float64).float().double()
    # gspo needs sequence ratios near 1 to exercise both branches: a second, tighter old
    offs = torch.tensor([6e-4, -6e-4, 1e-4, -1e-4, 8e-4, 0.0], dtype=torch.float64)
    seq_off = torch.cat([offs[i].repeat(n) for i, n in enumerate(lens)])
    old_g = (lp - seq_off).float().double()
    t = {"seq_start": np.array(starts, np.int32), "logp": lp.float().numpy(), "logp_old": old.float().numpy(),
         "logp_old_gspo": old_g.float().numpy(), "logp_ref": ref.float().numpy(), "adv": adv.float().numpy()}
    beta, max_len = 0.04, 12
    for kind in ["grpo", "dr_grpo", "dapo", "gspo"]:
        x = lp.clone().requires_grad_(True)
        loss = pg_loss(kind, x, old_g if kind == "gspo" else old, ref, adv, starts, beta, max_len)
        loss.backward()
        t[kind + ".loss"] = np.array([loss.item()], np.float32)
        t[kind + ".dlogp"] = x.grad.float().numpy()
    # off-policy: behaviour further away (ratios beyond the truncation cap of 2 for some tokens),
    # proximal between behaviour and current
    old_far = (lp + torch.randn(n_tok, generator=g, dtype=torch.float64) * 0.8).float().double()
    prox = (lp + torch.randn(n_tok, generator=g, dtype=torch.float64) * 0.25).float().double()
    t["logp_old_far"] = old_far.float().numpy()
    t["logp_prox"] = prox.float().numpy()
    for mode in ["tis", "decoupled"]:
        for kind in ["grpo", "dr_grpo", "dapo"]:
            x = lp.clone().requires_grad_(True)
            loss = off_policy_loss(mode, kind, x, old_far, prox, adv, starts, max_len)
            loss.backward()
            t[mode + "." + kind + ".loss"] = np.array([loss.item()], np.float32)
            t[mode + "." + kind + ".dlogp"] = x.grad.float().numpy()
    rewards = torch.tensor([1.0, 0.1, 0.0, 1.0, 0.1, 0.1, 0.0, 1.0], dtype=torch.float64)
    t["rewards"] = rewards.float().numpy()
    t["adv_std"] = ((rewards - rewards.mean()) / (rewards.std(unbiased=False) + 1e-6)).float().numpy()
    t["adv_nostd"] = (rewards - rewards.mean()).float().numpy()
    save(out, t)

if __name__ == "__main__":
    main()
