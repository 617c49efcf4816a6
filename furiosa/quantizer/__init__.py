"""furiosa.quantizer: calibration and quantization metadata (spec/toolchain-api.md §3).

The int8 scheme (:mod:`.qparams`) and the vendor's metadata format (:mod:`.metadata`) are shared
with the compiler.
"""
