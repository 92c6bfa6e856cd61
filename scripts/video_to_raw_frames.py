#!/usr/bin/env python3
"""Decode frames of a video into a raw frames file for the engine-only benchmarks.

The GPU machine has LibTorch and Python's cv2 but no OpenCV C++, so the C++ benchmarks read
raw BGR frames ("FSFRAMES1\\n<width> <height> <count>\\n" then the pixels, as
src/engine/bench/stage_bench.cpp writes them). With --size WxH each frame is scaled to fit
inside WxH keeping its aspect ratio and centred on grey, so a 640x480 face video gives a
1280x720 one whose faces have their natural shape.
Usage: video_to_raw_frames.py VIDEO OUT [--first N] [--count N] [--size WxH]
"""
import argparse
import sys

import cv2
import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("out")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", default="")
    args = parser.parse_args()
    video = cv2.VideoCapture(args.video)
    if not video.isOpened():
        sys.exit(f"video_to_raw_frames: cannot open {args.video}")
    video.set(cv2.CAP_PROP_POS_FRAMES, args.first)
    frames = []
    while len(frames) < args.count:
        ok, frame = video.read()
        if not ok:
            break
        if args.size:
            width, height = (int(v) for v in args.size.lower().split("x"))
            scale = min(width / frame.shape[1], height / frame.shape[0])
            scaled = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                                interpolation=cv2.INTER_CUBIC)
            canvas = np.full((height, width, 3), 128, np.uint8)
            y, x = (height - scaled.shape[0]) // 2, (width - scaled.shape[1]) // 2
            canvas[y:y + scaled.shape[0], x:x + scaled.shape[1]] = scaled
            frame = canvas
        frames.append(np.ascontiguousarray(frame))
    if not frames:
        sys.exit(f"video_to_raw_frames: no frames from {args.video} at {args.first}")
    height, width = frames[0].shape[:2]
    with open(args.out, "wb") as out:
        out.write(f"FSFRAMES1\n{width} {height} {len(frames)}\n".encode())
        for frame in frames:
            out.write(frame.tobytes())
    print(f"video_to_raw_frames: {len(frames)} frames {width}x{height} -> {args.out}")


if __name__ == "__main__":
    main()
