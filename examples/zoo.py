"""Models built in code for the examples, the demo, benchmarks and tests (no binary files in the repository).

Architectures follow the published ones (ResNet-50 v1.5, MobileNet-v2 layout); weights are
random but deterministic and scaled like a trained network's (He initialisation, batch norm
folded into the convolutions), so activations stay in realistic ranges.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    """A small helper to write ONNX graphs node by node."""

    def __init__(self, seed: int = 0, opset: int = 13) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.opset = opset
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, array: np.ndarray, base: str = "c") -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str | None = None, outputs: int = 1, **attrs) -> str | list[str]:
        outs = [self.name(base or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs[0] if outputs == 1 else outs

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, group: int = 1, relu: bool = True,
             dilation: int = 1, bias: bool = True) -> str:
        fan_in = cin // group * k * k
        w = (self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        inputs = [x, self.const(w, "w")]
        if bias:
            inputs.append(self.const((self.rng.standard_normal(cout) * 0.05).astype(np.float32), "b"))
        pad = (k - 1) // 2 * dilation
        y = self.op("Conv", inputs, "conv", kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                    group=group, dilations=[dilation, dilation])
        return self.op("Relu", [y], "relu") if relu else y

    def gemm(self, x: str, fin: int, fout: int) -> str:
        w = (self.rng.standard_normal((fout, fin)) * np.sqrt(1.0 / fin)).astype(np.float32)
        b = (self.rng.standard_normal(fout) * 0.05).astype(np.float32)
        return self.op("Gemm", [x, self.const(w, "fc_w"), self.const(b, "fc_b")], "fc", transB=1)

    def model(self, inputs: list[tuple[str, list[int]]], outputs: list[tuple[str, list[int] | None]],
              name: str = "model", check: bool = True) -> onnx.ModelProto:
        """The model; outputs given without a shape get the one ONNX shape inference finds."""
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        if any(s is None for _, s in outputs):
            inferred = onnx.shape_inference.infer_shapes(model)
            known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
            for output in model.graph.output:
                if output.name in known and known[output.name].type.tensor_type.HasField("shape"):
                    output.type.CopyFrom(known[output.name].type)
        if check:
            onnx.checker.check_model(model)
        return model


def resnet50(seed: int = 0, batch: int = 1, classes: int = 1000) -> onnx.ModelProto:
    """ResNet-50 v1.5 (stride in the 3x3 convolution), batch norm folded, 224x224 input."""
    b = Builder(seed)
    x = b.conv("input", 3, 64, 7, stride=2)
    x = b.op("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = b.conv(x, cin, planes, 1)
            y = b.conv(y, planes, planes, 3, stride=s)
            y = b.conv(y, planes, planes * 4, 1, relu=False)
            shortcut = b.conv(x, cin, planes * 4, 1, stride=s, relu=False) if (s != 1 or cin != planes * 4) else x
            x = b.op("Relu", [b.op("Add", [y, shortcut], "add")], "relu")
            cin = planes * 4
    x = b.op("GlobalAveragePool", [x], "gap")
    x = b.op("Flatten", [x], "flat", axis=1)
    b.nodes[-1].output[0] = "flat"
    b.gemm("flat", 2048, classes)
    b.nodes[-1].output[0] = "output"
    return b.model([("input", [batch, 3, 224, 224])], [("output", [batch, classes])], "resnet50")


def mobilenet_v2(seed: int = 0, batch: int = 1, classes: int = 1000, size: int = 224) -> onnx.ModelProto:
    """MobileNet-v2 layout: inverted residual blocks with depthwise 3x3 convolutions, ReLU6."""
    b = Builder(seed)

    def relu6(t: str) -> str:
        return b.op("Clip", [t, b.const(np.float32(0.0), "lo"), b.const(np.float32(6.0), "hi")], "relu6")

    x = relu6(b.conv("input", 3, 32, 3, stride=2, relu=False))
    cin = 32
    for expand, cout, repeats, stride in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                          (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(repeats):
            s = stride if i == 0 else 1
            hidden = cin * expand
            y = relu6(b.conv(x, cin, hidden, 1, relu=False)) if expand != 1 else x
            y = relu6(b.conv(y, hidden, hidden, 3, stride=s, group=hidden, relu=False))
            y = b.conv(y, hidden, cout, 1, relu=False)
            x = b.op("Add", [x, y], "add") if s == 1 and cin == cout else y
            cin = cout
    x = relu6(b.conv(x, cin, 1280, 1, relu=False))
    x = b.op("GlobalAveragePool", [x], "gap")
    x = b.op("Flatten", [x], "flat", axis=1)
    b.gemm(x, 1280, classes)
    b.nodes[-1].output[0] = "output"
    return b.model([("input", [batch, 3, size, size])], [("output", [batch, classes])], "mobilenet_v2")


def small_cnn(seed: int = 0, channels: int = 8, size: int = 16) -> onnx.ModelProto:
    """A tiny CNN exercising Conv, Relu, MaxPool, Add, Concat, GlobalAveragePool, Gemm, Softmax."""
    b = Builder(seed)
    a = b.conv("input", 3, channels, 3)
    p = b.op("MaxPool", [a], "pool", kernel_shape=[2, 2], strides=[2, 2])
    c1 = b.conv(p, channels, channels, 3)
    c2 = b.conv(p, channels, channels, 1)
    s = b.op("Add", [c1, c2], "add")
    cat = b.op("Concat", [s, p], "cat", axis=1)
    g = b.op("GlobalAveragePool", [cat], "gap")
    f = b.op("Flatten", [g], "flat", axis=1)
    logits = b.gemm(f, 2 * channels, 10)
    b.op("Softmax", [logits], "prob", axis=1)
    b.nodes[-1].output[0] = "output"
    return b.model([("input", [1, 3, size, size])], [("output", [1, 10])], "small_cnn")


def calibration_data(model: onnx.ModelProto, count: int, seed: int = 1) -> list[dict[str, np.ndarray]]:
    """Random inputs in [0, 1) for every graph input (image-like data)."""
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    out = []
    for _ in range(count):
        feed = {}
        for value in model.graph.input:
            if value.name in inits:
                continue
            shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
            feed[value.name] = rng.random(shape, dtype=np.float32)
        out.append(feed)
    return out


def quantize_qdq(model: onnx.ModelProto, data: list[dict[str, np.ndarray]], per_channel: bool = True,
                 activation_type: str = "QInt8") -> onnx.ModelProto:
    """The model quantized by onnxruntime's ``quantize_static`` (QDQ format)."""
    import os
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(data)

        def get_next(self):
            return next(self.items, None)

    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_static nags about pre-processing on the root logger
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source, target = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "qdq.onnx")
            onnx.save(model, source)
            quantize_static(source, target, Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                            activation_type=getattr(QuantType, activation_type), weight_type=QuantType.QInt8)
            return onnx.load(target)
    finally:
        root.setLevel(level)


# --- published architectures for the timing model's checks (spec/warboy-hardware.md §9) --------
def nominal_calibration(model: onnx.ModelProto, low: float = -4.0, high: float = 4.0,
                        uint8_inputs: tuple[int, ...] = (), int8_outputs: tuple[int, ...] = ()) -> onnx.ModelProto:
    """The model with calibration metadata giving every tensor the range ``[low, high]``.

    Enough to compile a big model for the NPU (placement, costs and timing depend on shapes only)
    without running it; ``uint8_inputs`` lists the inputs that take uint8 data and
    ``int8_outputs`` the outputs returned as int8, as ``ModelEditor.convert_input_type`` /
    ``convert_output_type`` record them.
    """
    from furiosa.quantizer.metadata import (CALIBRATION_KEY, WITHOUT_DEQUANTIZE_KEY, WITHOUT_QUANTIZE_KEY,
                                            OutputConversion, dump_ranges, dump_without_dequantize)

    out = onnx.ModelProto()
    out.CopyFrom(model)
    names = [v.name for v in out.graph.input] + [o for n in out.graph.node for o in n.output if o]
    entries = {CALIBRATION_KEY: dump_ranges({n: (low, high) for n in names})}
    if uint8_inputs:
        entries[WITHOUT_QUANTIZE_KEY] = ",".join(str(i) for i in sorted(uint8_inputs))
    if int8_outputs:
        entries[WITHOUT_DEQUANTIZE_KEY] = dump_without_dequantize([OutputConversion(i, "int8") for i in int8_outputs])
    for key, value in entries.items():
        out.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    return out


def _padded_conv(b: Builder, x: str, cin: int, cout: int, k: int, stride: int, group: int = 1) -> str:
    """A TensorFlow 'SAME' convolution as TFLite models carry it: explicit Pad, then a valid Conv."""
    total = k - stride if stride > 1 else k - 1
    before, after = total // 2, total - total // 2
    pads = b.const(np.array([0, 0, before, before, 0, 0, after, after], dtype=np.int64), "pads")
    x = b.op("Pad", [x, pads], "pad", mode="constant")
    fan_in = cin // group * k * k
    w = (b.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    bias = (b.rng.standard_normal(cout) * 0.05).astype(np.float32)
    y = b.op("Conv", [x, b.const(w, "w"), b.const(bias, "b")], "conv", kernel_shape=[k, k],
             strides=[stride, stride], group=group)
    return b.op("Clip", [y, b.const(np.float32(0.0), "lo"), b.const(np.float32(6.0), "hi")], "relu6")


MOBILENET_V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
                       (512, 1), (512, 1), (1024, 2), (1024, 1))
"""MobileNet v1's 13 depthwise-separable blocks: (pointwise output channels, depthwise stride)."""


def _mobilenet_v1_body(b: Builder, x: str, size: int, taps: tuple[int, ...] = ()) -> tuple[str, list[str]]:
    relu6 = lambda t: b.op("Clip", [t, b.const(np.float32(0.0), "lo"), b.const(np.float32(6.0), "hi")], "relu6")  # noqa: E731
    x = relu6(b.conv(x, 3, 32, 3, stride=2, relu=False))
    cin, tapped = 32, []
    for i, (cout, stride) in enumerate(MOBILENET_V1_LAYERS):
        x = relu6(b.conv(x, cin, cin, 3, stride=stride, group=cin, relu=False))
        x = relu6(b.conv(x, cin, cout, 1, relu=False))
        cin = cout
        if i in taps:
            tapped.append(x)
    return x, tapped


def mobilenet_v1(seed: int = 0, classes: int = 1001, size: int = 224, explicit_pads: bool = True,
                 softmax: bool = False) -> onnx.ModelProto:
    """MobileNet v1 1.0 as the vendor's profiler example runs it (the TFLite model, 224x224).

    TFLite's 'SAME' padding appears as 14 explicit Pad operators before the stem and the 13
    depthwise convolutions (``explicit_pads``); the classifier is a 1x1 convolution to 1001
    classes after a 7x7 average pool, as in the TFLite model. ReLU6 follows every convolution.
    """
    b = Builder(seed)
    if explicit_pads:
        x = _padded_conv(b, "input", 3, 32, 3, 2)
        cin = 32
        for cout, stride in MOBILENET_V1_LAYERS:
            x = _padded_conv(b, x, cin, cin, 3, stride, group=cin)
            x = b.op("Clip", [b.conv(x, cin, cout, 1, relu=False), b.const(np.float32(0.0), "lo"),
                              b.const(np.float32(6.0), "hi")], "relu6")
            cin = cout
    else:
        x, _ = _mobilenet_v1_body(b, "input", size)
    x = b.op("AveragePool", [x], "pool", kernel_shape=[size // 32, size // 32])
    x = b.conv(x, 1024, classes, 1, relu=False)
    x = b.op("Reshape", [x, b.const(np.array([1, classes], dtype=np.int64), "shape")], "logits")
    if softmax:
        x = b.op("Softmax", [x], "prob", axis=1)
    b.nodes[-1].output[0] = "output"
    return b.model([("input", [1, 3, size, size])], [("output", [1, classes])], "mobilenet_v1")


def ssd_mobilenet_v1(seed: int = 0, classes: int = 91, size: int = 300) -> onnx.ModelProto:
    """SSD-MobileNet v1 (the MLPerf model, TF object detection API 'ssd_mobilenet_v1_coco'), 300x300.

    MobileNet v1 feature maps at 19x19 (block 11) and 10x10 (block 13), four extra layers
    (1x1 then 3x3 stride-2 convolutions: 512, 256, 256, 128 channels) down to 1x1, and 1x1 box
    predictors (3 anchors on the first map, 6 on the others; 4 box coordinates and 91 class
    scores per anchor). Outputs are the 12 predictor maps; box decoding and NMS run on the host.
    """
    b = Builder(seed)
    x, (c11,) = _mobilenet_v1_body(b, "input", size, taps=(10,))
    maps, cin = [(c11, 512), (x, 1024)], 1024
    for depth in (512, 256, 256, 128):
        y = b.op("Clip", [b.conv(x, cin, depth // 2, 1, relu=False), b.const(np.float32(0.0), "lo"),
                          b.const(np.float32(6.0), "hi")], "relu6")
        x = b.op("Clip", [b.conv(y, depth // 2, depth, 3, stride=2, relu=False), b.const(np.float32(0.0), "lo"),
                          b.const(np.float32(6.0), "hi")], "relu6")
        maps.append((x, depth))
        cin = depth
    sides = [size]
    for stride in [2] + [s for _, s in MOBILENET_V1_LAYERS] + [2, 2, 2, 2]:
        sides.append((sides[-1] - 1) // stride + 1)  # 3x3 convolutions with padding 1
    map_sides = [sides[12], sides[14]] + sides[15:]  # after blocks 11 and 13, then the four extra layers
    outputs: list[tuple[str, list[int] | None]] = []
    for i, (fmap, channels) in enumerate(maps):
        anchors = 3 if i == 0 else 6
        for kind, per_anchor in (("box", 4), ("cls", classes)):
            b.conv(fmap, channels, anchors * per_anchor, 1, relu=False)
            b.nodes[-1].output[0] = name = f"{kind}_{i}"
            outputs.append((name, [1, anchors * per_anchor, map_sides[i], map_sides[i]]))
    return b.model([("input", [1, 3, size, size])], outputs, "ssd_mobilenet_v1")


YOLOV5_SCALES = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}
"""YOLOv5 v6 model scales: (depth multiple, width multiple)."""


def yolov5(scale: str = "l", seed: int = 0, size: int = 640, classes: int = 80) -> onnx.ModelProto:
    """YOLOv5 (v6.0 architecture, Ultralytics yolov5*.yaml): backbone, PANet neck, Detect convolutions.

    Convolutions are Conv + folded BatchNorm + SiLU (``x * sigmoid(x)``); C3 blocks, SPPF,
    nearest 2x upsampling (Resize) and channel concatenations as published. The model ends with
    the three Detect 1x1 convolutions (3 anchors x (classes + 5) channels at strides 8, 16, 32);
    decoding runs on the host. ``scale`` is one of n, s, m, l, x.
    """
    import math

    if scale not in YOLOV5_SCALES:
        raise ValueError(f"unknown YOLOv5 scale {scale!r}; expected one of {', '.join(YOLOV5_SCALES)}")
    depth, width = YOLOV5_SCALES[scale]
    b = Builder(seed)
    ch = lambda c: int(math.ceil(c * width / 8) * 8)  # noqa: E731
    reps = lambda n: max(round(n * depth), 1)  # noqa: E731

    def conv(x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None) -> str:
        fan_in = cin * k * k
        w = b.rng.standard_normal((cout, cin, k, k), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        bias = (b.rng.standard_normal(cout) * 0.05).astype(np.float32)
        p = k // 2 if pad is None else pad
        y = b.op("Conv", [x, b.const(w, "w"), b.const(bias, "b")], "conv", kernel_shape=[k, k],
                 strides=[stride, stride], pads=[p] * 4)
        return b.op("Mul", [y, b.op("Sigmoid", [y], "sigmoid")], "silu")

    def c3(x: str, cin: int, cout: int, n: int, shortcut: bool = True) -> str:
        hidden = cout // 2
        y = conv(x, cin, hidden, 1)
        for _ in range(n):
            z = conv(conv(y, hidden, hidden, 1), hidden, hidden, 3)
            y = b.op("Add", [y, z], "add") if shortcut else z
        cat = b.op("Concat", [y, conv(x, cin, hidden, 1)], "cat", axis=1)
        return conv(cat, 2 * hidden, cout, 1)

    def sppf(x: str, cin: int, cout: int) -> str:
        hidden = cin // 2
        x = conv(x, cin, hidden, 1)
        pools = [x]
        for _ in range(3):
            pools.append(b.op("MaxPool", [pools[-1]], "pool", kernel_shape=[5, 5], strides=[1, 1], pads=[2] * 4))
        return conv(b.op("Concat", pools, "cat", axis=1), 4 * hidden, cout, 1)

    def upsample(x: str) -> str:
        scales = b.const(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
        return b.op("Resize", [x, "", scales], "up", mode="nearest")

    c64, c128, c256, c512, c1024 = (ch(c) for c in (64, 128, 256, 512, 1024))
    outputs: list[tuple[str, list[int] | None]] = []
    x = conv("input", 3, c64, 6, 2, 2)
    x = c3(conv(x, c64, c128, 3, 2), c128, c128, reps(3))
    p3 = c3(conv(x, c128, c256, 3, 2), c256, c256, reps(6))
    p4 = c3(conv(p3, c256, c512, 3, 2), c512, c512, reps(9))
    x = sppf(c3(conv(p4, c512, c1024, 3, 2), c1024, c1024, reps(3)), c1024, c1024)
    h10 = conv(x, c1024, c512, 1)
    x = c3(b.op("Concat", [upsample(h10), p4], "cat", axis=1), 2 * c512, c512, reps(3), shortcut=False)
    h14 = conv(x, c512, c256, 1)
    out_small = c3(b.op("Concat", [upsample(h14), p3], "cat", axis=1), 2 * c256, c256, reps(3), shortcut=False)
    x = conv(out_small, c256, c256, 3, 2)
    out_medium = c3(b.op("Concat", [x, h14], "cat", axis=1), 2 * c256, c512, reps(3), shortcut=False)
    x = conv(out_medium, c512, c512, 3, 2)
    out_large = c3(b.op("Concat", [x, h10], "cat", axis=1), 2 * c512, c1024, reps(3), shortcut=False)
    for i, (fmap, channels) in enumerate(((out_small, c256), (out_medium, c512), (out_large, c1024))):
        w = (b.rng.standard_normal((3 * (classes + 5), channels, 1, 1)) * np.sqrt(1.0 / channels)).astype(np.float32)
        bias = (b.rng.standard_normal(3 * (classes + 5)) * 0.05).astype(np.float32)
        b.op("Conv", [fmap, b.const(w, "w"), b.const(bias, "b")], "detect", kernel_shape=[1, 1])
        b.nodes[-1].output[0] = name = f"detect_{i}"
        side = size // (8 << i)
        outputs.append((name, [1, 3 * (classes + 5), side, side]))
    # The ONNX checker serializes the whole model: skipped for the big scales (hundreds of MB).
    return b.model([("input", [1, 3, size, size])], outputs, f"yolov5{scale}", check=scale in ("n", "s"))
