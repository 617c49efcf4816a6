"""Reading Chrome traces in tests."""
from __future__ import annotations

import json
from collections import defaultdict


def check_nesting(events: list[dict]) -> None:
    """Complete events of one lane must nest or follow each other (chrome://tracing and Perfetto)."""
    lanes: dict[tuple, list[tuple[int, int, str]]] = defaultdict(list)
    for event in events:
        if event.get("ph") == "X":
            args = event["args"]
            lanes[(event["pid"], event["tid"])].append((int(args["start_ts"]), int(args["end_ts"]), event["name"]))
    for lane, spans in lanes.items():
        stack: list[tuple[int, int, str]] = []
        for start, end, name in sorted(spans, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1][1] <= start:
                stack.pop()
            assert not stack or end <= stack[-1][1], f"{name} overlaps {stack[-1][2]} on lane {lane}"
            stack.append((start, end, name))


def load_trace(path) -> list[dict]:
    events = json.loads(open(path).read())
    assert isinstance(events, list) and events
    check_nesting(events)
    return events
