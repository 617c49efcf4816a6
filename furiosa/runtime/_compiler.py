"""``furiosa.runtime.compiler``: empty in 0.10 (its helpers were legacy-only)."""

__all__: list[str] = []
