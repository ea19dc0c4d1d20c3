#!/usr/bin/env python3
"""check_checkpoint.py DIR: loads the C-written checkpoint DIR with the PyTorch reference, recomputes
the logits of DIR/c_logits.safetensors's batch and exits 1 if the relative error exceeds 1e-4."""
import os
import sys

try:
    import torch
except ImportError:
    print("check_checkpoint: torch is not importable by", sys.executable,
          "- install Debian's python3-torch (deploy/install-deps.sh)", file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from model_ref import Model  # noqa: E402


def main():
    d = sys.argv[1]
    m = Model.load(d)
    ref, _ = st.load(os.path.join(d, "c_logits.safetensors"))
    with torch.no_grad():
        logits, _, _ = m.forward(torch.tensor(ref["tokens"]).long(), torch.tensor(ref["lengths"]).long())
    c = torch.tensor(ref["logits"]).double()
    err = ((logits - c).abs().max() / logits.abs().max()).item()
    print(f"check_checkpoint: PyTorch vs C logits on the C checkpoint: rel err {err:.2e}")
    sys.exit(0 if err <= 1e-4 else 1)


if __name__ == "__main__":
    main()
