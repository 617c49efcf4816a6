"""Facts of the TFLite FlatBuffer schema (``schema.fbs``, file identifier ``TFL3``).

Only what the frontend reads is described: the tables of the model with the slot number of
every field, the enumerations by value, and the builtin-options tables of the operators the
frontend translates. Slots are the order of declaration in the schema (deprecated fields keep
their slot). The test suite's model writer uses the same tables, so reader and writer agree.
"""
from __future__ import annotations

from dataclasses import dataclass

FILE_IDENTIFIER = b"TFL3"

# --- enumerations -------------------------------------------------------------------------------
TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
    14: "variant", 15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16",
}
TENSOR_TYPE_CODES = {name: code for code, name in TENSOR_TYPES.items()}

ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}

# BuiltinOperator, by value (the position in this tuple).
BUILTIN_OPERATORS = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN",
    "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM",
    "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
    "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM",
    "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
    "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV",
    "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2",
    "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE",
    "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE",
    "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
    "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU",
    "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR",
    "RIGHT_SHIFT",
)
OPERATOR_CODES = {name: code for code, name in enumerate(BUILTIN_OPERATORS)}
# Codes above this one are stored only in OperatorCode.builtin_code (schema version 3a).
PLACEHOLDER_FOR_GREATER_OP_CODES = 127


def operator_name(code: int) -> str:
    if 0 <= code < len(BUILTIN_OPERATORS):
        return BUILTIN_OPERATORS[code]
    return f"BUILTIN_OPERATOR_{code}"


# --- tables: field name -> slot -----------------------------------------------------------------
class Model:
    VERSION, OPERATOR_CODES, SUBGRAPHS, DESCRIPTION, BUFFERS = 0, 1, 2, 3, 4
    METADATA_BUFFER, METADATA, SIGNATURE_DEFS = 5, 6, 7


class SubGraph:
    TENSORS, INPUTS, OUTPUTS, OPERATORS, NAME = 0, 1, 2, 3, 4


class Tensor:
    SHAPE, TYPE, BUFFER, NAME, QUANTIZATION, IS_VARIABLE, SPARSITY, SHAPE_SIGNATURE = 0, 1, 2, 3, 4, 5, 6, 7


class Quantization:
    MIN, MAX, SCALE, ZERO_POINT, DETAILS_TYPE, DETAILS, QUANTIZED_DIMENSION = 0, 1, 2, 3, 4, 5, 6


class Operator:
    OPCODE_INDEX, INPUTS, OUTPUTS, BUILTIN_OPTIONS_TYPE, BUILTIN_OPTIONS, CUSTOM_OPTIONS = 0, 1, 2, 3, 4, 5
    BUILTIN_OPTIONS_2_TYPE, BUILTIN_OPTIONS_2 = 11, 12


class OperatorCode:
    DEPRECATED_BUILTIN_CODE, CUSTOM_CODE, VERSION, BUILTIN_CODE = 0, 1, 2, 3


class Buffer:
    DATA, OFFSET, SIZE = 0, 1, 2


# --- builtin options --------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionField:
    """One field of a builtin-options table: its name, slot, scalar kind and default."""

    name: str
    slot: int
    kind: str  # a scalar kind of flatbuffer.Buffer.read, or "[int32]" for a vector
    default: object = 0


@dataclass(frozen=True)
class OptionsTable:
    """A builtin-options table: its union type code (``BuiltinOptions``) and its fields."""

    name: str
    union_type: int
    fields: tuple[OptionField, ...]


def _table(name: str, union_type: int, *fields: tuple) -> OptionsTable:
    return OptionsTable(name, union_type, tuple(OptionField(*f) for f in fields))


_CONV = _table("Conv2DOptions", 1, ("padding", 0, "int8"), ("stride_w", 1, "int32"), ("stride_h", 2, "int32"),
               ("fused_activation_function", 3, "int8"), ("dilation_w_factor", 4, "int32", 1),
               ("dilation_h_factor", 5, "int32", 1))
_DEPTHWISE = _table("DepthwiseConv2DOptions", 2, ("padding", 0, "int8"), ("stride_w", 1, "int32"),
                    ("stride_h", 2, "int32"), ("depth_multiplier", 3, "int32"),
                    ("fused_activation_function", 4, "int8"), ("dilation_w_factor", 5, "int32", 1),
                    ("dilation_h_factor", 6, "int32", 1))
_POOL = _table("Pool2DOptions", 5, ("padding", 0, "int8"), ("stride_w", 1, "int32"), ("stride_h", 2, "int32"),
               ("filter_width", 3, "int32"), ("filter_height", 4, "int32"),
               ("fused_activation_function", 5, "int8"))
_FULLY_CONNECTED = _table("FullyConnectedOptions", 8, ("fused_activation_function", 0, "int8"),
                          ("weights_format", 1, "int8"), ("keep_num_dims", 2, "bool", False),
                          ("asymmetric_quantize_inputs", 3, "bool", False))
_SOFTMAX = _table("SoftmaxOptions", 9, ("beta", 0, "float32", 0.0))
_CONCATENATION = _table("ConcatenationOptions", 10, ("axis", 0, "int32"), ("fused_activation_function", 1, "int8"))
_ADD = _table("AddOptions", 11, ("fused_activation_function", 0, "int8"), ("pot_scale_int16", 1, "bool", True))
_RESIZE_BILINEAR = _table("ResizeBilinearOptions", 15, ("align_corners", 2, "bool", False),
                          ("half_pixel_centers", 3, "bool", False))
_RESHAPE = _table("ReshapeOptions", 17, ("new_shape", 0, "[int32]", None))
_SPACE_TO_DEPTH = _table("SpaceToDepthOptions", 19, ("block_size", 0, "int32"))
_MUL = _table("MulOptions", 21, ("fused_activation_function", 0, "int8"))
_PAD = _table("PadOptions", 22)
_TRANSPOSE = _table("TransposeOptions", 26)
_REDUCER = _table("ReducerOptions", 27, ("keep_dims", 0, "bool", False))
_SUB = _table("SubOptions", 28, ("fused_activation_function", 0, "int8"), ("pot_scale_int16", 1, "bool", True))
_SQUEEZE = _table("SqueezeOptions", 30, ("squeeze_dims", 0, "[int32]", None))
_STRIDED_SLICE = _table("StridedSliceOptions", 32, ("begin_mask", 0, "int32"), ("end_mask", 1, "int32"),
                        ("ellipsis_mask", 2, "int32"), ("new_axis_mask", 3, "int32"),
                        ("shrink_axis_mask", 4, "int32"), ("offset", 5, "bool", False))
_DEQUANTIZE = _table("DequantizeOptions", 38)
_MAXIMUM_MINIMUM = _table("MaximumMinimumOptions", 39)
_PADV2 = _table("PadV2Options", 43)
_SLICE = _table("SliceOptions", 47)
_EXPAND_DIMS = _table("ExpandDimsOptions", 52)
_RESIZE_NEAREST = _table("ResizeNearestNeighborOptions", 74, ("align_corners", 0, "bool", False),
                         ("half_pixel_centers", 1, "bool", False))
_LEAKY_RELU = _table("LeakyReluOptions", 75, ("alpha", 0, "float32", 0.0))
_QUANTIZE = _table("QuantizeOptions", 89)
_HARD_SWISH = _table("HardSwishOptions", 91)
_DEPTH_TO_SPACE = _table("DepthToSpaceOptions", 94, ("block_size", 0, "int32"))

# Operator name -> the options table it carries.
OPTIONS: dict[str, OptionsTable] = {
    "CONV_2D": _CONV, "DEPTHWISE_CONV_2D": _DEPTHWISE, "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL,
    "FULLY_CONNECTED": _FULLY_CONNECTED, "SOFTMAX": _SOFTMAX, "CONCATENATION": _CONCATENATION,
    "ADD": _ADD, "SUB": _SUB, "MUL": _MUL, "RESHAPE": _RESHAPE, "MEAN": _REDUCER, "SUM": _REDUCER,
    "REDUCE_MAX": _REDUCER, "REDUCE_MIN": _REDUCER, "SQUEEZE": _SQUEEZE, "PAD": _PAD, "PADV2": _PADV2,
    "RESIZE_BILINEAR": _RESIZE_BILINEAR, "RESIZE_NEAREST_NEIGHBOR": _RESIZE_NEAREST, "LEAKY_RELU": _LEAKY_RELU,
    "QUANTIZE": _QUANTIZE, "DEQUANTIZE": _DEQUANTIZE, "HARD_SWISH": _HARD_SWISH, "TRANSPOSE": _TRANSPOSE,
    "STRIDED_SLICE": _STRIDED_SLICE, "SLICE": _SLICE, "EXPAND_DIMS": _EXPAND_DIMS,
    "SPACE_TO_DEPTH": _SPACE_TO_DEPTH, "DEPTH_TO_SPACE": _DEPTH_TO_SPACE,
    "MAXIMUM": _MAXIMUM_MINIMUM, "MINIMUM": _MAXIMUM_MINIMUM,
}
