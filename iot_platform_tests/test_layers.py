"""Layers import downward only: core and plain clients never reach Dagster; processes use core and clients."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "iot_platform"

CORE = ("settings", "errors", "partitions", "tables", "offsets", "instants", "runs")
DAGSTER_LAYER = (
    "resources",
    "assets",
    "sensors",
    "jobs",
    "schedules",
    "definitions",
    "cluster_definitions",
    "pipelines",
)
"""Modules under ``iot_platform`` that make up (or sit just below) the Dagster layer."""


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def files_of(*names: str) -> list[Path]:
    """The source files of the named top-level modules and packages of ``iot_platform``."""
    files: list[Path] = []
    for name in names:
        package = PACKAGE / name
        files += sorted(package.rglob("*.py")) if package.is_dir() else [PACKAGE / f"{name}.py"]
    return [path for path in files if path.exists()]


def forbidden(module: str, layers: tuple[str, ...]) -> bool:
    """Whether ``module`` is Dagster itself or one of the ``layers`` of the platform."""
    if module == "dagster" or module.startswith("dagster."):
        return True
    return any(module == f"iot_platform.{layer}" or module.startswith(f"iot_platform.{layer}.") for layer in layers)


PROCESSES = ("api", "generator", "stack", "demo", "cli")
"""The platform's processes: they use core and clients only."""

BELOW = {
    "core": (*DAGSTER_LAYER, *PROCESSES, "transforms", "clients"),
    "clients": (*DAGSTER_LAYER, *PROCESSES),
    "processes": DAGSTER_LAYER,
}
"""What each layer must not import (besides Dagster itself)."""


def layer_of(path: Path) -> str:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return "core" if top in CORE else "clients" if top == "clients" else "processes"


@pytest.mark.parametrize(
    "path",
    files_of(*CORE, "clients", "api", "generator", "demo", "cli"),
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_core_clients_and_processes_import_no_dagster_module(path: Path) -> None:
    bad = sorted(module for module in imported_modules(path) if forbidden(module, BELOW[layer_of(path)]))
    assert bad == [], f"{path.relative_to(PACKAGE)} imports {bad}"
