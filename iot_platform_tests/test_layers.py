"""The import rules of ARCHITECTURE.md: layers import downward only, and only the Dagster layer (and the Dagster
client) reaches Dagster."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "iot_platform"

CORE = ("__init__", "settings", "errors", "profiles", "partitions", "instants", "runs", "tables", "offsets", "registry")
"""Definitions every layer shares: settings, errors, names, keys, table contracts, offset bookkeeping."""

LAYERS: dict[str, tuple[str, ...]] = {
    "core": CORE,
    "transforms": ("transforms",),
    "clients": ("clients",),
    "pipelines": ("pipelines",),
    "resources": ("resources",),
    "orchestration": ("assets", "sensors", "jobs", "schedules"),
    "definitions": ("definitions", "cluster_definitions", "run_workers", "run_worker_preload"),
}
"""The layered part of the package, bottom first: a module may import its own layer and the ones below it."""

PROCESSES = ("api", "generator", "stack", "demo")
"""The platform's processes besides Dagster's: they use core and clients, and their own package."""

ENTRY = ("cli", "__main__")
"""The ``iot-platform`` command: it mounts the processes."""

ALLOWED = {
    # The command lines that start the generator, for the processes that launch it (the stack's service, the demo).
    ("stack", "iot_platform.generator.command"),
    ("demo", "iot_platform.generator.command"),
}
"""Named exceptions: (layer or process, imported module)."""

DAGSTER_ALLOWED = ("resources", "orchestration", "definitions")
"""Layers that may import Dagster itself; besides them only ``clients/dagster.py``, the client of Dagster's
webserver and instance storage."""


def group_of(path: Path) -> str:
    """The layer, process or entry point a source file belongs to."""
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    for layer, names in LAYERS.items():
        if top in names:
            return layer
    if top in PROCESSES:
        return top
    if top in ENTRY:
        return "entry"
    raise AssertionError(f"{path.relative_to(PACKAGE)} belongs to no layer: add it to ARCHITECTURE.md and this test")


def group_of_module(module: str) -> str:
    """The group of an ``iot_platform.*`` module name."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    package = PACKAGE / top
    return group_of(package / "__init__.py" if package.is_dir() else PACKAGE / f"{top}.py")


def allowed_groups(group: str) -> set[str]:
    """The groups ``group`` may import."""
    order = list(LAYERS)
    if group in LAYERS:
        return set(order[: order.index(group) + 1])
    if group in PROCESSES:
        return {"core", "clients", group}
    return {"core", "clients", *PROCESSES, "entry"}


def imports_of(path: Path, source: str | None = None) -> set[str]:
    """Every absolute module ``path`` (or ``source`` given as its text) imports, at the top or inside functions."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def violations(path: Path, source: str | None = None) -> list[str]:
    """The imports of ``path`` (or of ``source`` as its text) that break the rules, each with the rule it breaks."""
    group = group_of(path)
    found = []
    for module in sorted(imports_of(path, source)):
        root = module.split(".")[0]
        if root == "dagster" or root.startswith("dagster_"):
            dagster_client = path == PACKAGE / "clients" / "dagster.py"
            if group not in DAGSTER_ALLOWED and not dagster_client:
                found.append(f"{module} (Dagster outside the Dagster layer)")
        elif root == "iot_platform" and module != "iot_platform":
            target = group_of_module(module)
            if target not in allowed_groups(group) and (group, module) not in ALLOWED:
                found.append(f"{module} ({group} may not import {target})")
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    assert violations(path) == [], f"{path.relative_to(PACKAGE)} imports {violations(path)}"


@pytest.mark.parametrize(
    ("file", "source", "reported"),
    [
        ("clients/kafka.py", "from iot_platform.resources.kafka import KafkaResource", "may not import resources"),
        ("pipelines/hourly_stats/run.py", "import dagster", "Dagster outside the Dagster layer"),
        ("api/main.py", "from iot_platform.runs import INGEST_JOB\nfrom iot_platform.jobs import x", "api may not"),
        ("stack/kafka.py", "from iot_platform.pipelines.sensor_readings.run import run_ingestion", "stack may not"),
        ("tables.py", "from pyspark.sql import types\nfrom iot_platform.transforms import readings", "core may not"),
    ],
)
def test_an_import_against_the_rules_is_reported(file: str, source: str, reported: str) -> None:
    found = violations(PACKAGE / file, source)
    assert len(found) == 1 and reported in found[0], found


def test_imports_the_rules_allow_are_not_reported() -> None:
    source = "import dagster\nfrom iot_platform.clients.spark import spark_session\nfrom iot_platform import tables"
    assert violations(PACKAGE / "assets" / "hourly_stats.py", source) == []
    assert violations(PACKAGE / "stack" / "generator.py", "from iot_platform.generator.command import x") == []
