"""Command lines: furiosa-compiler, furiosa, furiosa-bench, furiosa-litmus, furiosactl."""
