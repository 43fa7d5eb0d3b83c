#!/usr/bin/env python3
"""Copies a safetensors file without the named tensors (the golden MNIST conv file also holds a
sample input and its outputs, which are not model parameters). Usage: IN OUT NAME..."""
import json
import struct
import sys

src, dst, drop = sys.argv[1], sys.argv[2], set(sys.argv[3:])
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
out_header, blobs, at = {}, [], 0
for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
    if name == "__metadata__":
        out_header[name] = info
        continue
    if name in drop:
        continue
    a, b = info["data_offsets"]
    blobs.append(data[a:b])
    out_header[name] = dict(info, data_offsets=[at, at + (b - a)])
    at += b - a
h = json.dumps(out_header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
