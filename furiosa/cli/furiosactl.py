"""``furiosactl``: the emulated NPU cards of this machine (spec/toolchain-api.md §10).

* ``info`` (``--full``, ``--format table|json|yaml``): one row per card;
* ``list``: each card's PEs with their state and its device files;
* ``ps``: processes holding device files, read from the device lock files;
* ``top`` (``--interval MS``): utilisation per process and device from the activity runtimes
  publish (:mod:`furiosa.device.activity`).

Sensors of an emulated card are modeled, not measured: the temperature and power follow the
card's recent NPU utilisation (:func:`sensors`), 40 °C and 1.00 W when idle.
"""
from __future__ import annotations

import datetime
import json
import sys
import time
from typing import Any, Sequence

import click

from furiosa.common.version import emulator_version, git_hash

from ._common import CliError, run, setup_output

IDLE_WATTS = 1.0
BUSY_WATTS = 40.0
IDLE_CELSIUS = 40.0
BUSY_CELSIUS = 25.0
TOP_NOTE = "NOTE: furiosa top is under development. Usage and output formats may change."


# --- tables ----------------------------------------------------------------------------------
def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A ``+---+`` bordered table, a rule after the header and after every row."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(parts) + " |"

    out = [rule, line(header), rule]
    for row in rows:
        out += [line(row), rule]
    return "\n".join(out)


# --- device facts ----------------------------------------------------------------------------
def _devices() -> list[Any]:
    from furiosa.device import devices

    try:
        return devices()
    except ValueError as error:
        raise CliError(str(error)) from None


def utilisation(card: str, records: list[dict[str, Any]]) -> float:
    """A card's NPU utilisation since its runtimes opened it (0..1), from their published activity."""
    busy = 0.0
    for record in records:
        if str(record.get("devfile", "")).startswith(card + "pe"):
            wall = max(float(record.get("updated", 0)) - float(record.get("since", 0)), 1e-9)
            busy += int(record.get("busy_ns", 0)) / 1e9 / wall
    return min(busy, 1.0)


def sensors(card: str, records: list[dict[str, Any]]) -> tuple[float, float]:
    """Modeled temperature (°C) and power (W) of an emulated card."""
    load = utilisation(card, records)
    return IDLE_CELSIUS + BUSY_CELSIUS * load, IDLE_WATTS + (BUSY_WATTS - IDLE_WATTS) * load


def info_records() -> list[dict[str, str]]:
    from furiosa.device import activity

    records = activity.snapshot()
    out = []
    for device in _devices():
        temperature, power = sensors(device.name(), records)
        out.append({
            "dev_name": device.name(),
            "product_name": "warboy",
            "device_uuid": device.device_uuid(),
            "device_sn": device.device_sn(),
            "firmware": f"{emulator_version()}, {git_hash()[:7]}",
            "temperature": f"{temperature:.0f}°C",
            "power": f"{power:.2f} W",
            "pci_bdf": device.busname(),
            "pci_dev": device.pci_dev(),
        })
    return out


def holders() -> list[tuple[str, dict[str, Any]]]:
    """(device file, holder) for every held device file, from the lock files."""
    from furiosa.device import inventory

    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[tuple[Any, str]] = set()
    for card in range(inventory.card_count()):
        for core in range(inventory.PES_PER_CARD):
            holder = inventory.holder(card, core)
            if holder is None:
                continue
            devfile = str(holder.get("devfile") or f"npu{card}pe{core}")
            key = (holder.get("pid"), devfile)
            if key in seen:
                continue
            seen.add(key)
            out.append((devfile, holder))
    return out


# --- commands --------------------------------------------------------------------------------
HELP = f"""furiosactl {emulator_version()} (emulated FuriosaAI Warboy devices)

Usage: furiosactl <sub command> [option] ..

Sub commands:
  info    Shows the NPU devices: name, firmware, temperature, power, PCI address
            --full                   adds UUID, serial number and PCI device number
            --format <table|json|yaml>
  list    Lists the NPU devices, the state of their cores and their device files
  ps      Lists the processes using NPU devices
  top     Shows the NPU utilisation of each process over time (experimental)
            --interval <ms>          sampling interval [default: 1000]

Options:
  -h, --help     Print help
  -V, --version  Print version"""


def _print_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(HELP)
        ctx.exit(0)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"furiosactl {emulator_version()} (rev: {git_hash()[:9]})")
        ctx.exit(0)


_HELP_OPTION = click.option("-h", "--help", is_flag=True, expose_value=False, is_eager=True, callback=_print_help)


@click.group(context_settings={"help_option_names": []}, add_help_option=False, invoke_without_command=True)
@_HELP_OPTION
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version)
@click.pass_context
def command(ctx: click.Context) -> None:
    """furiosactl"""
    setup_output(False)
    if ctx.invoked_subcommand is None:
        click.echo(HELP)


@command.command(add_help_option=False)
@_HELP_OPTION
@click.option("--full", is_flag=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "yaml"]), default="table")
def info(full: bool, fmt: str) -> None:
    """Shows the NPU devices."""
    records = info_records()
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(records, sort_keys=False, allow_unicode=True), nl=False)
        return
    if full:
        header = ("NPU", "Name", "UUID", "S/N", "Firmware", "Temp.", "Power", "PCI-BDF", "PCI-DEV")
        keys = ("dev_name", "product_name", "device_uuid", "device_sn", "firmware", "temperature", "power",
                "pci_bdf", "pci_dev")
        right = (5,)
    else:
        header = ("NPU", "Name", "Firmware", "Temp.", "Power", "PCI-BDF")
        keys = ("dev_name", "product_name", "firmware", "temperature", "power", "pci_bdf")
        right = (3,)
    click.echo(table(header, [[r[k] for k in keys] for r in records], right))


@command.command(name="list", add_help_option=False)
@_HELP_OPTION
def list_() -> None:
    """Lists the NPU devices and their device files."""
    rows = []
    for device in _devices():
        cores = ", ".join(f"{core} ({device.core_status(core)})" for core in device.cores())
        files = ", ".join([device.name()] + [f.filename() for f in device.dev_files()])
        rows.append((device.name(), cores, files))
    click.echo(table(("NPU", "Cores", "DEVFILES"), rows))


@command.command(add_help_option=False)
@_HELP_OPTION
def ps() -> None:
    """Lists the processes using NPU devices."""
    rows = [(devfile, str(holder.get("pid", "?")), str(holder.get("cmd", "?"))) for devfile, holder in holders()]
    click.echo(table(("NPU", "PID", "CMD"), rows))


def _rfc3339(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns // 1_000_000_000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


TOP_HEADER = ("Datetime".ljust(32) + "PID".ljust(10) + "Device".ljust(14) + "NPU(%)".ljust(9) + "Comp(%)".ljust(10)
              + "I/O(%)".ljust(9) + "Command")


def _totals(records: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for record in records:
        key = (int(record.get("pid", 0)), str(record.get("devfile", "?")))
        total = out.setdefault(key, {"busy_ns": 0, "comp_ns": 0, "io_ns": 0, "inferences": 0,
                                     "cmd": record.get("cmd", ""), "since": record.get("since", 0)})
        for counter in ("busy_ns", "comp_ns", "io_ns", "inferences"):
            total[counter] += int(record.get(counter, 0))
    return out


def top_lines(before: list[dict[str, Any]], after: list[dict[str, Any]], elapsed_s: float, at_ns: int) -> list[str]:
    """One line per (process, device file) between two activity snapshots."""
    first, second = _totals(before), _totals(after)
    lines = []
    for key in sorted(second):
        pid, devfile = key
        now = second[key]
        prev = first.get(key, {"busy_ns": 0, "comp_ns": 0, "io_ns": 0})
        wall = elapsed_s if key in first else max(min(elapsed_s, at_ns / 1e9 - float(now["since"])), 1e-9)
        busy = (now["busy_ns"] - prev["busy_ns"]) / 1e9
        comp = now["comp_ns"] - prev["comp_ns"]
        io = now["io_ns"] - prev["io_ns"]
        npu = min(100.0, 100.0 * busy / wall) if wall > 0 else 0.0
        comp_pct = 100.0 * comp / (comp + io) if comp + io else 0.0
        io_pct = 100.0 - comp_pct if comp + io else 0.0
        lines.append(f"{_rfc3339(at_ns):<32}{pid:<10}{devfile:<14}{npu:>6.2f}   {comp_pct:>7.2f}   {io_pct:>6.2f}   "
                     f"{now['cmd']}")
    return lines


@command.command(add_help_option=False)
@_HELP_OPTION
@click.option("--interval", type=click.IntRange(min=1), default=1000, help="sampling interval in milliseconds")
@click.option("--count", type=click.IntRange(min=1), default=None, hidden=True,
              help="stop after this many samples (emulator extension, for scripts)")
def top(interval: int, count: int | None) -> None:
    """Shows NPU utilisation over time."""
    from furiosa.device import activity

    click.echo(TOP_NOTE)
    click.echo("Please enter Ctrl+C to stop.")
    click.echo(TOP_HEADER)
    sys.stdout.flush()
    before, taken = activity.snapshot(), time.monotonic()
    samples = 0
    while count is None or samples < count:
        time.sleep(interval / 1000.0)
        after, now = activity.snapshot(), time.monotonic()
        for line in top_lines(before, after, now - taken, time.time_ns()):
            click.echo(line)
        sys.stdout.flush()
        before, taken = after, now
        samples += 1


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosactl``."""
    run(command, args, prog_name="furiosactl")


if __name__ == "__main__":
    main()
