"""The profiler's parts, each a view of the same :class:`~furiosa.device.emulator.events.Span` events.

* :mod:`.choices`: ``RecordFormat`` and ``Resource``, the vendor's int-like enums;
* :mod:`.schema`: the vendor's columns and id formats;
* :mod:`.frame`: spans to the vendor's DataFrame, and the tables the reports print;
* :mod:`.report`: the printed reports (``print_summary`` and the four tables);
* :mod:`.chrome`: Chrome-trace events with one lane per kind of work, and the writers;
* :mod:`.environment`: tracing through ``FURIOSA_PROFILER_OUTPUT_PATH`` with no code change.

The public API is :mod:`furiosa.runtime.profiler`.
"""
