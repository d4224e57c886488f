"""The apps depend on each other one way: a module imports only from its own app and the apps below it.

    core  <  journeys.rules  <  org  <  catalog  <  playbook  <  customers  <  usage  <  messaging  <  journeys
          <  guide  <  reporting  <  api  <  web  <  installation, demo, bench (the tools and the project's own glue)

`core` is the project's plumbing (clock, bulk writes, audit, locks); `journeys.rules` the engine's rules in
plain Python; then the organisation and the catalogue, the playbook (the plan, reference data like the
catalogue), the customers and their facts, their usage, the outbox (it sends messages and knows nothing of
acts), the engine that runs the plan over them, the booklet, the figures, the REST API for other systems, the
pages. Where a lower app has news for a
higher one (a customer joined or left, a message left, an act moved) it sends a signal from its `signals`
module inside the write's transaction, and the higher app connects its receivers in its `apps.ready`. Management commands are
entry points, not layers (a command may call any app), and tests may import anything.

The imports that still point up are listed in KNOWN, each with what it is waiting for. The test fails on
any other upward import, and on a KNOWN one that has gone (so the list only shrinks).

Beside the layers, the imports' place: at the module's top, unless a comment on the import's line or the line
above says why it sits inside a function (`test_every_function_local_import_says_why`).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # src/onboard90

LAYERS = [
    "core", "journeys.rules", "org", "catalog", "playbook", "customers", "usage", "messaging", "journeys", "guide",
    "reporting", "api", "web",
    "installation", "demo", "bench",
]
# Top-level modules that are glue, not layers: they may import anything and nothing imports them but entry points.
GLUE = {"cli", "settings", "urls", "wsgi", "testing", "__main__", "__init__"}

# (importing module, imported app layer): why it still points up.
KNOWN: dict[tuple[str, str], str] = {}


def _layer(module: str) -> str | None:
    """The layer a dotted module path (without `onboard90.`) belongs to, or None for glue."""
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _modules():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "tests" in parts or "migrations" in parts or "commands" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("onboard90."):
            yield node.module.removeprefix("onboard90.")
            for alias in node.names:  # `from onboard90.journeys import rules` names a subpackage
                yield f"{node.module.removeprefix('onboard90.')}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("onboard90."):
                    yield alias.name.removeprefix("onboard90.")


def upward_imports() -> set[tuple[str, str]]:
    found = set()
    for module, path in _modules():
        mine = _layer(module)
        if mine is None:
            continue
        for imported in _imports(path):
            theirs = _layer(imported)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                found.add((module, theirs))
    return found


def test_no_app_imports_one_above_it_but_the_known_ones_each_with_its_reason():
    found = upward_imports()
    new = sorted(found - set(KNOWN))
    assert not new, f"imports that point up the layers (see this module's docstring): {new}"
    gone = sorted(set(KNOWN) - found)
    assert not gone, f"no longer imported: remove from KNOWN {gone}"


def test_every_app_has_a_layer():
    apps = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "apps.py").exists()}
    assert apps <= set(LAYERS), apps - set(LAYERS)


def _local_imports_unexplained(path: Path) -> list[int]:
    """The lines of `path`'s imports inside a function body with no comment at the end of their own line nor
    on the line directly above (for an import over several lines, its first line)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    commented = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.COMMENT
    }
    found = set()
    for function in ast.walk(ast.parse(text)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                line = node.lineno
                above = lines[line - 2].strip() if line >= 2 else ""
                if line not in commented and not above.startswith("#"):
                    found.add(line)
    return sorted(found)


def test_every_function_local_import_says_why():
    """An import sits at its module's top unless a comment says why it cannot: code that runs before the
    settings are loaded, receivers wired in `apps.ready`, a heavy or optional package only one path needs, an
    import cycle (named). Management commands included; tests and migrations left out."""
    unexplained = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" in parts or "migrations" in parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in _local_imports_unexplained(path):
            unexplained.append(f"{path.relative_to(ROOT)}:{line}: {lines[line - 1].strip()}")
    assert not unexplained, "function-local imports without a comment saying why:\n" + "\n".join(unexplained)
