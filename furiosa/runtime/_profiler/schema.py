"""The vendor's span schema: DataFrame columns and how ids print (shared by the DataFrame and traces)."""
from __future__ import annotations

COLUMNS = ("trace_id", "parent_span_id", "span_id", "start", "end", "cat", "name", "thread.id", "dram_base",
           "pe_index", "execution_index", "instruction_index", "operator_index", "dur")
INDEXES = ("dram_base", "pe_index", "execution_index", "instruction_index", "operator_index")


def trace_hex(value: int) -> str:
    """A trace id as the vendor prints it: 32 hex digits."""
    return f"{value:032x}"


def span_hex(value: int) -> str:
    """A span id as the vendor prints it: 16 hex digits (``0000000000000000`` for no parent)."""
    return f"{value:016x}"
