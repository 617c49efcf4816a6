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
    logits = b.gemm("flat", 2048, classes)
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
