"""furiosa: the meta command finds furiosa-compile / -litmus / -server and runs them."""
from __future__ import annotations

import re
import shutil

from furiosa.common.version import sdk_version

from .conftest import BIN


def _installed() -> list[str]:
    return [name for name in ("compile", "server", "litmus") if (BIN / f"furiosa-{name}").exists()
            or shutil.which(f"furiosa-{name}")]


def test_help_lists_the_installed_subcommands(cli):
    for args in ((), ("--help",), ("-h",)):
        result = cli("furiosa", *args)
        assert result.returncode == 0
        names = _installed()
        assert "compile" in names and "litmus" in names
        choices = "{" + ",".join(names) + "}"
        assert result.stdout.startswith(f"usage: furiosa [-h] [--version] {choices} ...")
        assert f"FuriosaAI SDK CLI (ver. {sdk_version().version})" in result.stdout
        assert "positional arguments:" in result.stdout and "options:" in result.stdout
        assert re.search(r"^    compile +FuriosaAI SDK Compiler for DNN models$", result.stdout, re.M)
        assert re.search(r"^    litmus +Validator to check if DNN models work in FuriosaAI SDK$", result.stdout, re.M)
        assert "sub-command help" in result.stdout


def test_version(cli):
    result = cli("furiosa", "--version")
    assert result.returncode == 0
    assert re.fullmatch(rf"{re.escape(sdk_version().version)}-release \(rev: [0-9a-f]{{9}}\)", result.stdout.strip())


def test_unknown_subcommand(cli):
    result = cli("furiosa", "bogus")
    assert result.returncode == 2
    choices = ", ".join(repr(n) for n in _installed())
    assert (f"furiosa: error: argument subcommand: invalid choice: 'bogus' (choose from {choices})"
            in result.stderr)


def test_subcommands_run_the_tools_with_their_exit_status(cli, qdq_model, tmp_path):
    version = cli("furiosa", "compile", "--version")
    assert version.returncode == 0 and version.stdout.startswith("furiosa-compiler ")
    compiled = cli("furiosa", "compile", qdq_model, "-o", "m.enf")
    assert compiled.returncode == 0 and (tmp_path / "m.enf").exists()
    assert "[6/6]" in compiled.stderr
    failed = cli("furiosa", "compile", "missing.onnx")
    assert failed.returncode == 1 and "missing.onnx" in failed.stderr
    litmus_help = cli("furiosa", "litmus", "--help")
    assert litmus_help.returncode == 0 and litmus_help.stdout.startswith("usage: furiosa-litmus")


def test_server_appears_only_when_installed(cli, env, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    server = fake / "furiosa-server"
    server.write_text("#!/bin/sh\necho serving \"$@\"\nexit 3\n")
    server.chmod(0o755)
    result = cli("furiosa", "--help", extra_env={"PATH": f"{fake}:{env['PATH']}"})
    assert "server              RESTful/GRPC Serving framework for DNN models" in result.stdout
    ran = cli("furiosa", "server", "--port", "8080", extra_env={"PATH": f"{fake}:{env['PATH']}"})
    assert ran.returncode == 3 and ran.stdout.strip() == "serving --port 8080"
