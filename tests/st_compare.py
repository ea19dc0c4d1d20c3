#!/usr/bin/env python3
"""st_compare.py A B TOL: compares two safetensors files of float32 tensors (same names and
shapes). Prints the largest difference of each file pair relative to max(|a|, |b|, rms of the
tensor); exits 1 if it exceeds TOL (or the tensors differ in name/shape). Standard library only."""
import json, math, struct, sys


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        if v["dtype"] != "F32":
            raise SystemExit(f"{path}: {k} is {v['dtype']}, expected F32")
        a, b = v["data_offsets"]
        out[k] = (tuple(v["shape"]), struct.unpack(f"<{(b - a) // 4}f", data[a:b]))
    return out


def main():
    a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
    if a.keys() != b.keys():
        print("tensor names differ")
        return 1
    worst, where, same = 0.0, "", True
    for k in sorted(a):
        (sa, x), (sb, y) = a[k], b[k]
        if sa != sb:
            print(f"{k}: shape {sa} vs {sb}")
            return 1
        rms = math.sqrt(sum(v * v for v in x) / max(len(x), 1))
        for u, v in zip(x, y):
            if u != v:
                same = False
                e = abs(u - v) / max(abs(u), abs(v), rms)
                if e > worst:
                    worst, where = e, k
    print(f"max relative difference {worst:.3g}{' in ' + where if where else ''}"
          f"{' (identical)' if same else ''}")
    return 0 if worst <= tol else 1


sys.exit(main())
