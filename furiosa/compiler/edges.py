"""What happens at the edges of the NPU: model inputs and outputs, Lower and Unlower.

* ``ModelEditor`` / 0.9 options, read from the calibration metadata: a converted input takes
  uint8 data holding quantized values (its Quantize disappears; uint8 becomes the NPU's int8 as
  it is transferred); a converted output is returned as int8 / uint8 with the requested range
  (its Dequantize disappears, a requantization is added when the range differs).
* ``permute_input``: the user feeds input *i* transposed by ``perm``. Quantize works element by
  element on the permuted data; the Lower that brings the tensor to the NPU undoes the
  permutation, as the card's Lower does. Only a host operator reading the input directly gets
  an explicit transpose.
* Lower / Unlower: every tensor crossing from the host to the NPU is lowered, every tensor
  crossing back is unlowered. They run on the NPU when the tensor's last axis is the width and a
  multiple of 32, otherwise on the host, with a Pad before Lower / a Slice after Unlower when
  the width is not a multiple of 32 (spec/toolchain-api.md §4.3). ``remove_lower`` /
  ``remove_unlower`` leave model inputs / outputs in the lowered layout instead.

In the emulator the NPU kernels read tensors in their logical layout, so Lower, Unlower and
their Pad / Slice move no data; they exist for placement, profiling and timing. The lowered
layout becomes real where the user sees it (lowered inputs and outputs).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from furiosa.common.errors import InvalidConfigError, UnsupportedModelError
from furiosa.quantizer.qparams import activation_qparams

from .enf.layout import ALIGN
from .ir import Graph, Node, Value
from .passes import Context


@dataclass
class IOPlan:
    """How model inputs and outputs are presented to the user.

    ``permutations`` maps a tensor holding user-permuted data to the permutation;
    ``lowered`` is the set of tensors already in the lowered layout (no Lower needed).
    ``layout``: how the model lays out 4-D tensors (``NCHW``; ``NHWC`` for TFLite models, whose
    graph says so in its ``layout`` attribute).
    """

    permutations: dict[str, tuple[int, ...]] = field(default_factory=dict)
    lowered: set[str] = field(default_factory=set)
    lowered_outputs: set[int] = field(default_factory=set)
    layout: str = "NCHW"
    lowered_readers: set[int] = field(default_factory=set)


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return tuple(out)


# --- ModelEditor conversions --------------------------------------------------------------------
def convert_inputs(graph: Graph, context: Context) -> None:
    """Apply ``WithoutQuantize``: the listed pure inputs take uint8 quantized data."""
    calibration = context.calibration
    if calibration is None or not calibration.without_quantize:
        return
    for index in calibration.without_quantize:
        if index >= len(graph.inputs):
            raise UnsupportedModelError(
                f"FurisoaAI.WithoutQuantize names input {index}, but the model has {len(graph.inputs)} inputs"
            )
        name = graph.inputs[index]
        users = graph.consumers(name)
        quantizers = [n for n in users if n.op == "quantize"]
        if not quantizers or len(quantizers) != len(users):
            raise UnsupportedModelError(
                f"input {graph.input_names[index]!r} cannot take uint8 data: it has no calibration range "
                "or also feeds float operators"
            )
        first = quantizers[0]
        qp = graph.values[first.outputs[0]].qparams
        for other in quantizers[1:]:
            if graph.values[other.outputs[0]].qparams != qp:
                raise UnsupportedModelError(f"input {name!r} is quantized with two different parameters")
            graph.replace_uses(other.outputs[0], first.outputs[0])
            graph.remove_node(other)
        graph.remove_node(first)
        graph.inputs[index] = first.outputs[0]
        # The user feeds uint8; the same stored int8 values under the uint8 zero point (+128).
        graph.values[first.outputs[0]].qparams = qp.with_dtype("uint8")
        graph.touch()


def convert_outputs(graph: Graph, context: Context) -> None:
    """Apply ``WithoutDequantize``: the listed outputs are returned quantized."""
    calibration = context.calibration
    if calibration is None or not calibration.without_dequantize:
        return
    for entry in calibration.without_dequantize:
        if entry.index >= len(graph.outputs):
            raise UnsupportedModelError(
                f"FurisoaAI.WithoutDequantize names output {entry.index}, but the model has "
                f"{len(graph.outputs)} outputs"
            )
        name = graph.outputs[entry.index]
        producer = graph.producer(name)
        if producer is None or producer.op != "dequantize":
            raise UnsupportedModelError(
                f"output {graph.output_names[entry.index]!r} cannot be returned as {entry.dtype}: it is not "
                "quantized (give it a calibration range)"
            )
        stored = producer.inputs[0]
        qp_in = graph.values[stored].qparams
        if entry.range is not None:
            qp_out = activation_qparams(entry.range[0], entry.range[1], entry.dtype)
        else:
            qp_out = qp_in.with_dtype(entry.dtype)
        result = graph.fresh(stored + "_" + entry.dtype)
        graph.add_value(Value(result, graph.values[stored].shape, "int8", qp_out))
        if qp_out.with_dtype("int8") == qp_in.with_dtype("int8"):
            kernel = Node("retag", [stored], [result], {"onnx_op": "Identity"}, name=f"{name}/as_{entry.dtype}",
                          origin=producer.origin, display="Retag")
        else:
            kernel = Node("lut", [stored], [result], {"fn": "identity", "params": {}, "onnx_op": "QuantizeLinear"},
                          name=f"{name}/requantize", origin=producer.origin, display="LowLevelRequantize")
        graph.add_node(kernel, graph.nodes.index(producer))
        graph.outputs[entry.index] = result
        graph.eliminate_dead()


# --- permute_input / remove_lower -----------------------------------------------------------------
def plan_io(graph: Graph, context: Context) -> IOPlan:
    """Check ``permute_input`` against the model and give permuted inputs their user shape.

    Runs after placement, since NPU and host readers of a permuted input are treated differently.
    """
    config = context.config
    plan = IOPlan(layout=getattr(graph, "layout", "NCHW"))
    if plan.layout != "NCHW" and (config.remove_lower or config.remove_unlower):
        raise InvalidConfigError(f"remove_lower / remove_unlower need NCHW tensors; this model's tensors are "
                                 f"{plan.layout} (a TFLite model)")
    perms = config.permute_input or ()
    if len(perms) > len(graph.inputs):
        raise InvalidConfigError(
            f"permute_input has {len(perms)} entries but the model has {len(graph.inputs)} inputs"
        )
    for index, perm in enumerate(perms):
        name = graph.inputs[index]
        rank = len(graph.values[name].shape)
        if len(perm) != rank:
            raise InvalidConfigError(
                f"permute_input entry {list(perm)} has {len(perm)} axes, input "
                f"{graph.input_names[index]!r} has {rank}"
            )
        if perm != tuple(range(rank)):
            _permute_input(graph, index, perm, plan)
    if config.remove_lower:
        for name in graph.inputs:
            plan.lowered.update(_elementwise_closure(graph, name))
    if config.remove_unlower:
        plan.lowered_outputs = set(range(len(graph.outputs)))
        for name in graph.outputs:
            producer = graph.producer(name)
            if producer is not None and producer.op == "dequantize":
                # Dequantize works element by element: it reads the lowered data as it is.
                plan.lowered_readers.add(id(producer))
    return plan


def _elementwise_closure(graph: Graph, name: str) -> list[str]:
    """``name`` and the host Quantize outputs computed element by element from it."""
    out = [name]
    for user in graph.consumers(name):
        if user.op == "quantize":
            out.append(user.outputs[0])
    return out


def _permute_input(graph: Graph, index: int, perm: tuple[int, ...], plan: IOPlan) -> None:
    """Input ``index`` takes user data transposed by ``perm`` (placement must be known)."""
    name = graph.inputs[index]
    value = graph.values[name]
    user_shape = tuple(value.shape[p] for p in perm)
    user = graph.fresh(name + "_permuted")
    graph.add_value(Value(user, user_shape, value.dtype, value.qparams))
    graph.inputs[index] = user
    for reader in graph.consumers(name):
        if reader.op == "quantize":
            # Quantize works element by element: it reads the permuted data as it is.
            reader.inputs = [user if n == name else n for n in reader.inputs]
            logical = graph.values[reader.outputs[0]]
            permuted = graph.fresh(logical.name + "_permuted")
            graph.add_value(Value(permuted, user_shape, logical.dtype, logical.qparams))
            reader.outputs = [permuted]
            graph.touch()
            _redirect(graph, logical.name, permuted, perm, plan)
    _redirect(graph, name, user, perm, plan)


def _redirect(graph: Graph, logical: str, permuted: str, perm: tuple[int, ...], plan: IOPlan) -> None:
    """Readers of ``logical`` read ``permuted`` instead: NPU readers through the Lower that undoes
    ``perm``, host readers through an explicit transpose."""
    plan.permutations[permuted] = perm
    for reader in graph.consumers(logical):
        if reader.unit == "npu":
            reader.inputs = [permuted if n == logical else n for n in reader.inputs]
    graph.touch()
    if graph.consumers(logical) or logical in graph.outputs:
        node = Node("transpose", [permuted], [logical], {"perm": list(inverse(perm)), "onnx_op": "Transpose"},
                    name=f"{logical}/permute_input", display="Transpose", unit="host",
                    reason="permute_input: the input is transposed back for a host operator")
        producer = graph.producer(permuted)
        graph.add_node(node, 0 if producer is None else graph.nodes.index(producer) + 1)
    else:
        del graph.values[logical]


# --- Lower / Unlower ---------------------------------------------------------------------------------
def width_rule(shape: tuple[int, ...], layout: str = "NCHW") -> tuple[str, str, bool]:
    """(unit, reason, needs Pad/Slice) for lowering or unlowering a tensor of ``shape`` whose four
    axes are ``layout`` (``NCHW``; ``NHWC`` and its permutations for TFLite models)."""
    if len(shape) == 4 and layout[-1] != "W":
        axis = {"C": "channel", "H": "height", "N": "batch"}.get(layout[-1], "axis")
        return "host", f"the last axis of an {layout} tensor is the {axis} ({shape[3]}), not the width", False
    if len(shape) == 4:
        width = shape[3]
        if width % ALIGN == 0:
            return "npu", f"the last axis is the width ({width}), a multiple of {ALIGN}", False
        return "host", f"the width ({width}) is not a multiple of {ALIGN}", True
    return "host", f"the last axis of a rank-{len(shape)} tensor is not an image width", False


def _layout_node(kind: str, source: str, target: str, unit: str, reason: str, display: str,
                 attrs: dict | None = None) -> Node:
    return Node("layout", [source], [target], {"kind": kind, **(attrs or {})}, name=f"{source}/{kind}",
                unit=unit, reason=reason, display=display)


def _place_after(graph: Graph, node: Node, after: str) -> None:
    producer = graph.producer(after)
    graph.add_node(node, 0 if producer is None else graph.nodes.index(producer) + 1)


def _lower(graph: Graph, name: str, plan: IOPlan) -> None:
    readers = [n for n in graph.consumers(name) if n.unit == "npu"]
    if not readers or name in plan.lowered:
        return
    value = graph.values[name]
    perm = plan.permutations.get(name)
    letters = plan.layout if perm is None or plan.layout == "NCHW" else "".join(plan.layout[p] for p in perm)
    unit, why, pad = width_rule(value.shape, letters)
    source = name
    if pad:
        padded = graph.fresh(name + "_padded")
        graph.add_value(Value(padded, value.shape, value.dtype, value.qparams, source=value.source))
        _place_after(graph, _layout_node("pad", source, padded, "host", f"Pad before Lower: {why}", "Pad",
                                         {"align": ALIGN}), source)
        source = padded
    lowered = graph.fresh(name + "_lowered")
    logical_shape = value.shape if perm is None else tuple(value.shape[p] for p in inverse(perm))
    graph.add_value(Value(lowered, logical_shape, value.dtype, value.qparams, source=value.source))
    attrs = {"perm": None if perm is None else list(inverse(perm))}
    _place_after(graph, _layout_node("lower", source, lowered, unit, f"Lower on the {unit}: {why}", "Lower", attrs),
                 source)
    for reader in readers:
        reader.inputs = [lowered if n == name else n for n in reader.inputs]
    graph.touch()


def _unlower(graph: Graph, name: str, plan: IOPlan) -> None:
    host_readers = [n for n in graph.consumers(name) if n.unit != "npu" and id(n) not in plan.lowered_readers]
    outputs = [i for i, o in enumerate(graph.outputs) if o == name and i not in plan.lowered_outputs]
    if not host_readers and not outputs:
        return
    value = graph.values[name]
    unit, why, slice_after = width_rule(value.shape, plan.layout)
    unlowered = graph.fresh(name + "_unlowered")
    graph.add_value(Value(unlowered, value.shape, value.dtype, value.qparams, source=value.source))
    _place_after(graph, _layout_node("unlower", name, unlowered, unit, f"Unlower on the {unit}: {why}", "Unlower"),
                 name)
    final = unlowered
    if slice_after:
        final = graph.fresh(name + "_sliced")
        graph.add_value(Value(final, value.shape, value.dtype, value.qparams, source=value.source))
        _place_after(graph, _layout_node("slice", unlowered, final, "host", f"Slice after Unlower: {why}", "Slice",
                                         {"align": ALIGN}), unlowered)
    for reader in host_readers:
        reader.inputs = [final if n == name else n for n in reader.inputs]
    for i in outputs:
        graph.outputs[i] = final
    graph.touch()


def insert_layout(graph: Graph, plan: IOPlan) -> None:
    """Lower / Unlower (and Pad / Slice) at every boundary between the host and the NPU."""
    host_made = list(graph.inputs) + [o for n in graph.nodes if n.unit != "npu" for o in n.outputs]
    npu_made = [o for n in graph.nodes if n.unit == "npu" for o in n.outputs]
    for name in host_made:
        _lower(graph, name, plan)
    for name in npu_made:
        _unlower(graph, name, plan)
    for index, name in enumerate(graph.outputs):
        if index in plan.lowered_outputs and graph.values[name].shape and len(graph.values[name].shape) > 4:
            raise UnsupportedModelError(
                f"remove_unlower: output {graph.output_names[index]!r} has rank "
                f"{len(graph.values[name].shape)}; the lowered layout exists for ranks 2 to 4"
            )
