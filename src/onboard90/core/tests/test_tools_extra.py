"""`pip install onboard90` brings the product, not its tools: the demo's own dependency (Faker) is the `tools`
extra, and nothing but the demo and the bench imports it. (NumPy is the product's: the tariff engine.)"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[3]  # src/
TOOLS = {"faker"}


def _name(requirement: str) -> str:
    return requirement.split("==")[0].split(">")[0].split("<")[0].split("[")[0].strip().lower()


def test_the_base_install_has_no_demo_or_bench_dependency():
    project = tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_name(r) for r in project["dependencies"]}
    assert not base & TOOLS
    assert {_name(r) for r in project["optional-dependencies"]["tools"]} == TOOLS


def test_only_the_demo_and_the_bench_import_the_tools():
    for path in (ROOT / "onboard90").rglob("*.py"):
        parts = path.relative_to(ROOT / "onboard90").parts
        if parts[0] in ("demo", "bench") or "tests" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            assert not {n.split(".")[0] for n in names} & TOOLS, path


@pytest.mark.parametrize(("command", "args", "module"), [("demo", [], "faker")])
def test_without_the_tools_extra_the_command_says_what_to_install(monkeypatch, command, args, module):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(CommandError, match=r"onboard90\[tools\]"):
        call_command(command, *args)
