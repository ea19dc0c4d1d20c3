#!/usr/bin/env python3
"""Writes tests/fixtures/adamw.safetensors: torch.optim.AdamW trajectory on a toy problem, plus
clip_grad_norm_ and a warmup+cosine schedule, for learner/adamw_test.c. Run with /usr/bin/python3."""
import json, struct, sys, math
import numpy as np
import torch

def save(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = {np.float32: "F32", np.int32: "I32"}[arr.dtype.type]
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/adamw.safetensors"
    torch.manual_seed(0)
    n, steps = 64, 5
    p0 = torch.randn(n)
    grads = torch.randn(steps, n) * 3.0
    lrs = [1e-2 * (s + 1) / 2 if s < 2 else 5e-3 for s in range(steps)]
    p = p0.clone().requires_grad_(True)
    # decay on the first 48 entries only (matrices), none on the last 16 (norm weights)
    opt = torch.optim.AdamW([{"params": [p], "weight_decay": 0.1}], lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    mask = torch.ones(n); mask[48:] = 0
    for s in range(steps):
        opt.param_groups[0]["lr"] = lrs[s]
        p.grad = grads[s].clone()
        # emulate the per-element decay mask: undo decay on masked entries
        before = p.detach().clone()
        opt.step()
        with torch.no_grad():
            p[48:] += before[48:] * lrs[s] * 0.1  # torch applied p *= (1 - lr*wd); add it back
    # clip_grad_norm_
    g = torch.randn(n) * 5
    gp = torch.zeros(n, requires_grad=True); gp.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_([gp], max_norm=1.0)
    sched = [0.0] * 40
    for s in range(40):
        warm, tot, lmax, lmin = 5, 30, 1e-3, 1e-4
        if s < warm: sched[s] = lmax * (s + 1) / warm
        elif s >= tot: sched[s] = lmin
        else: sched[s] = lmin + 0.5 * (lmax - lmin) * (1 + math.cos(math.pi * (s - warm) / (tot - warm)))
    save(out, {
        "p0": p0.numpy().astype(np.float32), "grads": grads.numpy().astype(np.float32),
        "lrs": np.array(lrs, np.float32), "p_final": p.detach().numpy().astype(np.float32),
        "clip_in": g.numpy().astype(np.float32), "clip_out": gp.grad.numpy().astype(np.float32),
        "clip_norm": np.array([float(total)], np.float32), "sched": np.array(sched, np.float32),
    })

if __name__ == "__main__":
    main()
