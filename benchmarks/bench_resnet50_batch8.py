#!/usr/bin/env python
"""Emulator speed on a QDQ ResNet-50 compiled for batch 8, against onnxruntime fp32 at batch 8.

The same measurement as bench_resnet50.py with a batch of 8 images per inference. The last
line is the ratio to onnxruntime fp32 (goal: 1.0).

    python benchmarks/bench_resnet50_batch8.py [--repeat 8]
"""
from __future__ import annotations

import sys

from bench_resnet50 import main

if __name__ == "__main__":
    main(sys.argv[1:] or ["--repeat", "8"], batch=8)
