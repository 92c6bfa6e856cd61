#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Seeds are small valid inputs (and a few near-misses) so that libFuzzer starts deep inside each
parser. The face crops come from the real face sets of the cache (make setup, then `faceswap
extract`); the model seed is written by the engine's own model writer (the fuzz preset's fuzz_model_seed).
Run again only to change the seeds: tests/fuzz/corpus/ is committed, with the regression inputs
(named regression-*) that the fuzzers once crashed on.

Usage: tests/fuzz/make_seeds.py [CACHE_DIR] [MODEL_SEED_WRITER]   (after `make fuzz`)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".cache")
SEED_WRITER = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    ROOT, "build/fuzz/tests/fuzz/fuzz_model_seed")
FACES = os.path.join(CACHE, "train128/franck")


def put(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def face_crop(size):
    """A real aligned face (the first of franck's set), resized to size x size, BGR."""
    doc = json.load(open(os.path.join(FACES, "faces.json")))
    face = doc["faces"][0]
    image = cv2.imread(os.path.join(FACES, face["file"]))
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), face, doc


def jpeg(image, *flags):
    ok, data = cv2.imencode(".jpg", image, list(flags))
    assert ok
    return data.tobytes()


def frame_header(kind, payload, width=64, height=48, result=None):
    header = struct.pack("<IHHQqHHBBHI12x", 0x50575346, 1, kind, 7, 123456789, width, height, 1,
                         0, 0, len(payload))
    block = struct.pack("<IIIIH6x", *result) if result else b""
    return header + block + payload


def c2pa_seeds():
    """Small signed JPEG, PNG and MP4 files (synthetic pictures) for the content_credentials
    target, signed by scripts/research/c2pa/ref_writer.py (needs python3-cryptography, openssl and
    ffmpeg) with a throwaway certificate of the C2PA signer profile."""
    research = os.path.join(ROOT, "scripts", "research", "c2pa")
    with tempfile.TemporaryDirectory() as work:
        key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True)
        subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-sha256", "-days", "3650",
                        "-config", os.path.join(research, "c2pa.cnf"), "-extensions", "v3_good",
                        "-subj", "/O=faceswap fuzz seeds/CN=seed signer", "-out", cert],
                       check=True)
        gradient = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
        image = cv2.merge([gradient, gradient.T, 255 - gradient])
        inputs = {}
        for ext in ("jpg", "png"):
            path = os.path.join(work, "in." + ext)
            cv2.imwrite(path, image)
            inputs[ext] = path
        inputs["mp4"] = os.path.join(work, "in.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc=size=32x32:rate=2", "-t", "1", "-c:v", "libx264", "-pix_fmt",
                        "yuv420p", inputs["mp4"]], check=True)
        for ext, path in inputs.items():
            out = os.path.join(work, "signed." + ext)
            subprocess.run([sys.executable, os.path.join(research, "ref_writer.py"), path, out,
                            "--cert", cert, "--key", key], check=True, stdout=subprocess.DEVNULL)
            data = open(out, "rb").read()
            put("content_credentials", "signed." + ext, data)
            # A near miss: one byte of the picture changed, so the hash check fails.
            changed = bytearray(data)
            changed[-20] ^= 1
            put("content_credentials", "changed." + ext, bytes(changed))


def main():
    crop64, face, doc = face_crop(64)
    tiny = jpeg(cv2.resize(crop64, (16, 16)), cv2.IMWRITE_JPEG_QUALITY, 70)

    # The wire protocol.
    put("frame_message", "frame", frame_header(1, tiny, 16, 16))
    put("frame_message", "result", frame_header(2, tiny, 16, 16, (100, 200, 3000, 400, 1)))
    put("frame_message", "skipped", frame_header(3, b"", 16, 16))
    put("frame_message", "too-large", frame_header(1, tiny, 4000, 16))

    put("handshake_json", "hello",
        json.dumps({"type": "hello", "protocol": 1, "token": "s3cret", "model": "demo",
                    "direction": "a2b", "quality": 85}))
    put("handshake_json", "welcome",
        json.dumps({"type": "welcome", "session_id": "s-1",
                    "limits": {"max_payload_bytes": 4194304, "max_width": 3840,
                               "max_height": 2160, "max_in_flight": 6},
                    "model_sha256": "ab" * 32}))
    put("handshake_json", "error",
        json.dumps({"type": "error", "code": "unauthorized", "message": "wrong token"}))

    put("jpeg_decode", "face-64-baseline.jpg", jpeg(crop64, cv2.IMWRITE_JPEG_QUALITY, 85))
    put("jpeg_decode", "face-64-progressive.jpg",
        jpeg(crop64, cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
    put("jpeg_decode", "face-32-grey.jpg", jpeg(cv2.cvtColor(cv2.resize(crop64, (32, 32)),
                                                             cv2.COLOR_BGR2GRAY)))
    put("jpeg_decode", "face-16.jpg", tiny)

    for i, url in enumerate(["ws://127.0.0.1:8080/", "wss://gpu.example.org/swap",
                             "ws://[::1]:9000/x?y=1", "wss://host"]):
        put("ws_url", f"url-{i}", url)

    put("http_request", "get-range",
        "GET /v1/models/demo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
        "Range: bytes=100-\r\nIf-Range: \"0123\"\r\n\r\n")
    put("http_request", "get-none-match",
        "GET /v1/models/demo?x=1 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"0123\"\r\n\r\n")
    put("http_request", "put-upload",
        "PUT /v1/models/new_model HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
        f"X-Faceswap-Sha256: {'AB' * 32}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
    put("http_request", "upgrade",
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    put("server_config", "example.toml",
        open(os.path.join(ROOT, "server/faceswap-server.example.toml")).read())
    put("server_config", "small.toml",
        "[server]\naddress = \"0.0.0.0\"\nport = 0\n[auth]\nallow_anonymous = true\n"
        "[scheduler]\nbatch_size = 4\n")

    put("tokens_file", "tokens", "# clients\n3f9c0e1\n7a0b42 models # admin\n\nabc models\n")

    # TensorFlow.js: a float32 tensor, a uint8-quantised one and an int32 one in one shard.
    shard = struct.pack("<4f", 0.5, -1.0, 2.0, 0.25) + bytes([0, 128, 255, 7]) + \
        struct.pack("<2i", 3, -4)
    manifest = [{"paths": ["shard.bin"], "weights": [
        {"name": "conv/kernel", "shape": [1, 1, 2, 2], "dtype": "float32"},
        {"name": "conv/bias", "shape": [4], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.01}},
        {"name": "ids", "shape": [2], "dtype": "int32"}]}]
    put("tfjs_weights", "manifest", json.dumps(manifest).encode() + b"\n--shard--\n" + shard)

    # A face set of one real 16 px crop.
    crop16 = cv2.resize(crop64, (16, 16), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", crop16)
    entry = {key: face[key] for key in ("image_to_aligned", "landmarks")}
    entry["file"] = "face0.png"
    faces_json = {"size": 16, "coverage": doc["coverage"], "faces": [entry]}
    put("face_set", "one-face", json.dumps(faces_json).encode() + b"\n--crop--\n" + png.tobytes())

    # Face packs (the layout of src/engine/include/faceswap/face_pack.h), raw and JPEG.
    landmarks = np.array(face["landmarks"], np.float32) * (16 / 128.0)
    def pack(encoding, faces):
        out = b"FSPACK\0\0" + struct.pack("<IIIIf", 1, encoding, 16, len(faces), 0.75)
        out += struct.pack("<I", 6) + b"franck"
        for data in faces:
            out += landmarks.astype("<f4").tobytes() + struct.pack("<I", len(data)) + data
        return out
    rgb16 = cv2.cvtColor(crop16, cv2.COLOR_BGR2RGB).tobytes()
    put("face_pack", "raw-2", pack(0, [rgb16, rgb16[::-1]]))
    put("face_pack", "jpeg-1", pack(1, [jpeg(crop16)]))

    # A valid swap-model file of a few tiny tensors, written by the engine's own save_module
    # (tests/fuzz/model_seed.cpp, built by the fuzz preset).
    with tempfile.TemporaryDirectory() as work:
        model = os.path.join(work, "tiny.fsmodel")
        subprocess.run([SEED_WRITER, model], check=True)
        put("model_file", "tiny-swap.fsmodel", open(model, "rb").read())
        put("model_file", "tiny-swap-half.fsmodel", open(model + ".half", "rb").read())

if __name__ == "__main__":
    main()
