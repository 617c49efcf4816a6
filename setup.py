"""Build of the optional native loops (furiosa/device/emulator/kernels/_native.c).

Everything else is declared in pyproject.toml. The extension is optional: where no C compiler
is available the install still succeeds and the kernels use their numpy definitions, which
give the same results more slowly.
"""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "furiosa.device.emulator.kernels._native",
            ["furiosa/device/emulator/kernels/_native.c"],
            # Separate rounding of products and sums, as numpy does; no fast-math shortcuts.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11"],
            optional=True,
        )
    ],
)
