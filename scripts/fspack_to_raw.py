#!/usr/bin/env python3
"""Turn a JPEG face pack (faceswap pack) into a raw one that faceswap-train-packs reads.

For a machine with only LibTorch and Python (the GPU box): the C++ engine has no JPEG codec,
Python's cv2 has. Same layout as src/engine/src/face_pack.cpp (docs/swap-model.md), encoding 0.
Usage: fspack_to_raw.py IN.fspack OUT.fspack
"""
import os
import struct
import sys

import cv2
import numpy as np

MAGIC = b"FSPACK\0\0"
VERSION = 1


def fail(message):
    sys.exit(f"fspack_to_raw: {message}")


def main():
    if len(sys.argv) != 3:
        fail("usage: fspack_to_raw.py IN.fspack OUT.fspack")
    source, target = sys.argv[1], sys.argv[2]
    with open(source, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        fail(f"{source} is not a face pack")
    version, encoding, size, count = struct.unpack_from("<4I", data, 8)
    if version != VERSION:
        fail(f"{source}: pack version {version}, this script reads {VERSION}")
    (coverage,) = struct.unpack_from("<f", data, 24)
    (name_length,) = struct.unpack_from("<I", data, 28)
    offset = 32 + name_length
    name = data[32:offset]
    out = bytearray(MAGIC + struct.pack("<4I", VERSION, 0, size, count))
    out += struct.pack("<fI", coverage, name_length) + name
    face_bytes = size * size * 3
    for i in range(count):
        if offset + 136 * 4 + 4 > len(data):
            fail(f"{source} is truncated at face {i + 1} of {count}")
        landmarks = data[offset:offset + 136 * 4]
        (length,) = struct.unpack_from("<I", data, offset + 136 * 4)
        offset += 136 * 4 + 4
        stored = data[offset:offset + length]
        if len(stored) != length:
            fail(f"{source} is truncated at face {i + 1} of {count}")
        offset += length
        if encoding == 0:
            rgb = stored
        else:
            bgr = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None or bgr.shape != (size, size, 3):
                fail(f"{source}: face {i + 1} does not decode to {size} px")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).tobytes()
        out += landmarks + struct.pack("<I", face_bytes) + rgb
    partial = target + ".partial"
    with open(partial, "wb") as f:
        f.write(out)
    os.replace(partial, target)
    print(f"{target}: {count} raw faces of {name.decode()} ({size} px), {len(out) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
