"""A small CNN trained in numpy on scikit-learn's bundled digits (8x8 images), written to ONNX.

conv 3x3 (8 channels, pad 1) → ReLU → max-pool 2x2 → flatten → Gemm (10 classes), batch
``BATCH`` so the emulator runs the test set in a few calls. Training is plain mini-batch SGD
with momentum on the cross-entropy; it takes about a second.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BATCH = 100
CHANNELS = 8


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # [N, 1, 8, 8] in [0, 1]
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], digits.target[order]
    return images[:1200], labels[:1200], images[1200:1700], labels[1200:1700]


def _patches(x: np.ndarray) -> np.ndarray:
    """[N, 64, 9]: the 3x3 neighbourhood (zero-padded) of every pixel."""
    padded = np.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
    cols = [padded[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3)]
    return np.stack(cols, axis=-1).reshape(len(x), 64, 9)


def _forward(params, x):
    w, b, fw, fb = params
    cols = _patches(x)
    conv = cols @ w.reshape(CHANNELS, 9).T + b  # [N, 64, C]
    act = np.maximum(conv, 0).reshape(len(x), 4, 2, 4, 2, CHANNELS)
    pooled = act.max(axis=(2, 4))  # [N, 4, 4, C]
    flat = pooled.transpose(0, 3, 1, 2).reshape(len(x), -1)  # NCHW flatten order
    return cols, conv, act, pooled, flat, flat @ fw.T + fb


def train(images: np.ndarray, labels: np.ndarray, epochs: int = 25, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((CHANNELS, 1, 3, 3)).astype(np.float32) * 0.5, np.zeros(CHANNELS, np.float32),
              rng.standard_normal((10, CHANNELS * 16)).astype(np.float32) * 0.1, np.zeros(10, np.float32)]
    velocity = [np.zeros_like(p) for p in params]
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(images), 32):
            idx = order[start:start + 32]
            x, y = images[idx], labels[idx]
            cols, conv, act, pooled, flat, logits = _forward(params, x)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(y)), y] -= 1
            dlogits = p / len(y)
            grads_fc = [dlogits.T @ flat, dlogits.sum(axis=0)]
            dflat = dlogits @ params[2]
            dpooled = dflat.reshape(len(x), CHANNELS, 4, 4).transpose(0, 2, 3, 1)
            mask = act == pooled[:, :, None, :, None, :]
            dact = (mask * dpooled[:, :, None, :, None, :]).reshape(len(x), 64, CHANNELS)
            dconv = dact * (conv > 0)
            grads_conv = [np.einsum("npc,npk->ck", dconv, cols).reshape(CHANNELS, 1, 3, 3), dconv.sum(axis=(0, 1))]
            for i, grad in enumerate(grads_conv + grads_fc):
                velocity[i] = 0.9 * velocity[i] - 0.1 * grad.astype(np.float32)
                params[i] += velocity[i]
    return params


def predict(params, images: np.ndarray) -> np.ndarray:
    return _forward(params, images)[-1].argmax(axis=1)


def to_onnx(params) -> onnx.ModelProto:
    w, b, fw, fb = params
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("MaxPool", ["relu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fw", "fb"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [BATCH, 10])],
        [numpy_helper.from_array(np.asarray(v, np.float32), n) for n, v in zip(("w", "b", "fw", "fb"), params)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model
