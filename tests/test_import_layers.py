"""Imports point one way: core <- stages <- orchestration <- entry points (DESIGN.md, "Layers").

``LAYERS`` below is the one place that says which layer each package or module belongs to: the
longest matching dotted prefix wins. A module may import its own layer or any layer below it,
never one above - at module level, inside a function, or under ``TYPE_CHECKING`` alike, since a
lazy import still ties the lower layer to the upper one. Every module of the project's packages
must be covered, so a new package has to be placed here before its first test run passes.

The check reads the source with :mod:`ast` (no import, no new dependency), so it is fast and
sees imports hidden in functions that an import-time tracer would miss.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CORE, STAGE, ORCHESTRATION, ENTRY = 0, 1, 2, 3
LAYER_NAMES = {CORE: "core", STAGE: "stage", ORCHESTRATION: "orchestration", ENTRY: "entry point"}

# The layer of every package and module (longest dotted prefix wins).
LAYERS: dict[str, int] = {
    # core: campaign config, run directory, the CalLMIP table and file naming, constants,
    # drivers (and the embedded model they run), scheduler
    "callmip": CORE,
    "celm": CORE,
    # stages: forcing, spin-up, runs, conform, regrid, benchmark (and its ESMValTool twin),
    # the upload bundle
    "forcing": STAGE,
    "callmip.conform": STAGE,
    "callmip.conform.table": CORE,
    "callmip.conform.phase1_sites": CORE,
    "callmip.bundle": STAGE,
    "callmip.report_links": STAGE,
    "regrid": STAGE,
    "benchmarks": STAGE,
    "esmvaltool_bridge": STAGE,
    "flows.runs": STAGE,
    "flows.spinup": STAGE,
    # orchestration: Prefect flows and deployments
    "flows": ORCHESTRATION,
    # entry points: command line and server
    "callmip_app": ENTRY,
    "celm.cli": ENTRY,
    "celm.__main__": ENTRY,
}

PACKAGES = sorted({name.split(".")[0] for name in LAYERS})


def layer_of(module: str) -> int | None:
    """The layer of a dotted module name, from its longest prefix in ``LAYERS``."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in ``source``, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # "from pkg import sub" may name a submodule: judge it by the more specific name
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Upward imports of one module, as readable messages."""
    own = layer_of(module)
    out = []
    for line, target in imported_modules(source, module, is_package):
        if target.split(".")[0] not in PACKAGES:
            continue
        theirs = layer_of(target)
        if theirs is not None and own is not None and theirs > own:
            out.append(f"{module}:{line} ({LAYER_NAMES[own]}) imports {target} "
                       f"({LAYER_NAMES[theirs]})")
    return out


def project_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES if (REPO / pkg).is_dir()
                  for p in (REPO / pkg).rglob("*.py"))


def test_every_module_has_a_layer():
    missing = [module_name(p) for p in project_modules() if layer_of(module_name(p)) is None]
    assert not missing, f"place these modules in LAYERS: {missing}"


def test_imports_point_one_way():
    found = []
    for path in project_modules():
        found += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    assert not found, "upward imports:\n" + "\n".join(found)


@pytest.mark.parametrize(("module", "source"), [
    ("callmip.config", "from flows.campaign import campaign_flow\n"),
    ("regrid.apply", "def f():\n    import callmip_app.cli\n"),
    ("forcing.co2", "from flows import pipeline\n"),
    ("callmip.drivers.base", "from ..conform import conform\n"),
])
def test_a_wrong_import_is_caught(module, source):
    """The check can fail: an upward import (lazy, relative or plain) is reported."""
    assert violations(source, module)


def test_downward_and_sideways_imports_pass():
    assert not violations("from callmip.config import CampaignConfig\nimport regrid\n",
                          "benchmarks.run")
    assert not violations("from flows.campaign import campaign_flow\n", "callmip_app.cli")


def unit_of(module: str) -> str:
    """The entry of ``LAYERS`` that places ``module`` (its longest matching prefix)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return prefix
    return module


def test_packages_do_not_import_each_other_in_a_circle():
    """Between the units of ``LAYERS`` (a package, or the part of one placed in another layer)
    the import graph has no cycle: callmip and flows once imported each other."""
    graph: dict[str, set[str]] = {unit: set() for unit in LAYERS}
    for path in project_modules():
        module = module_name(path)
        for _, target in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            if target.split(".")[0] in PACKAGES and unit_of(target) != unit_of(module):
                graph[unit_of(module)].add(unit_of(target))
    done: set[str] = set()

    def visit(unit: str, trail: list[str]) -> None:
        if unit in trail:
            pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(unit):], unit]))
        if unit in done:
            return
        for nxt in sorted(graph[unit]):
            visit(nxt, [*trail, unit])
        done.add(unit)

    for unit in LAYERS:
        visit(unit, [])
