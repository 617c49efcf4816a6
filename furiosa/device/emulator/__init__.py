"""The emulated Warboy: kernels (int8 semantics), timing model, executor."""
