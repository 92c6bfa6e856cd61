#!/usr/bin/env python3
"""One markdown table row per direction from scripts/heldout-eval.sh output folders.

    scripts/eval-table.py .cache/eval/demo .cache/eval/tex60 ...

Columns: closer to target, identity margin (mean identity distance to the source minus to the
target), detail ratio, eyes+mouth detail ratio, mouth-opening r, eye-opening r, landmark
distance / inter-ocular, flicker output / input: the figures of docs/detail-stage.md.
"""
import os
import re
import sys

ROW = re.compile(r"(\S.*?)\s{2,}([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+(\d+)$")
BAR = {
    "closer": r"closer to B than to A in ([\d.]+)%",
    "mouth_r": r"mouth opening follows the input: correlation ([-\d.]+)",
    "eye_r": r"eye opening follows the input: correlation ([-\d.]+)",
    "landmarks": r"mean landmark distance ([\d.]+)%",
    "flicker": r"flicker output / input ([\d.]+)",
}


def parse(path):
    figures = {}
    with open(path) as report:
        for line in report:
            row = ROW.match(line.rstrip())
            if row:
                figures[row.group(1)] = float(row.group(2))
            for key, pattern in BAR.items():
                found = re.search(pattern, line)
                if found:
                    figures[key] = float(found.group(1))
    return figures


def main(folders):
    print("| run | dir | closer | margin | detail | eyes+mouth | mouth r | eye r | landmarks | flicker |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for folder in folders:
        for direction in ("a2b", "b2a"):
            path = os.path.join(folder, direction + ".txt")
            if not os.path.exists(path):
                continue
            f = parse(path)
            try:
                margin = f["identity distance to A"] - f["identity distance to B"]
                print(f"| {os.path.basename(folder.rstrip('/'))} | {direction} | {f['closer']:.1f}% "
                      f"| {margin:.3f} | {f['detail ratio (output / input)']:.3f} "
                      f"| {f['eyes+mouth detail ratio']:.3f} | {f['mouth_r']:.3f} "
                      f"| {f['eye_r']:.3f} | {f['landmarks']:.2f}% | {f['flicker']:.3f} |")
            except KeyError as missing:
                print(f"| {folder} | {direction} | incomplete report (no {missing}) |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
