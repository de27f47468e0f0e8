"""The shape of the house: imports run only leftwards, form no circle, and have no side effects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.source_tree import MODULES, PACKAGES, imported_names, source_files

IMPORT_ALL = """
import importlib, pkgutil, sys
import mlflow
before = mlflow.get_tracking_uri()
for name in {modules}:
    importlib.import_module(name)
for package in {packages}:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
assert mlflow.get_tracking_uri() == before, mlflow.get_tracking_uri()
print("imported")
"""

# Each part imports only from those to its left: config at the bottom, the command line on top,
# and serving stands on models, never on training.
ALLOWED = {
    "config": set(),
    "data": {"config"},
    "features": {"config", "data"},
    "models": {"config", "data", "features"},
    "services": {"config", "data", "features", "models"},
    "training": {"config", "data", "features", "models", "services"},
    "serving": {"config", "data", "features", "models", "services"},
    "cli": {"config", "data", "features", "models", "services", "training", "serving"},
}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """careops modules `path` imports (type-only imports count: a circle through them is a circle)."""
    return {name for name in imported_names(path) if name in known}


def import_graph() -> dict[str, set[str]]:
    files = source_files()
    return {module: imported_modules(path, set(files)) - {module} for module, path in files.items()}


def test_importing_everything_creates_nothing(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))}
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL.format(packages=PACKAGES, modules=MODULES)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_parts_import_only_from_their_left() -> None:
    graph = import_graph()
    assert len(graph) > 60 and sum(map(len, graph.values())) > 150  # the walk found the house
    offences = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if (top := target.split(".")[0]) != module.split(".")[0] and top not in ALLOWED[module.split(".")[0]]
    )
    assert offences == []


def test_serving_never_imports_training() -> None:
    graph = import_graph()
    reached = {
        target for module, targets in graph.items() if module.startswith("serving") for target in targets
    }
    assert reached and not any(target.startswith("training") for target in reached)


def test_no_module_imports_itself_through_others() -> None:
    graph = import_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(
                    [*trail[trail.index(target) :], target] if target in trail else [module, target]
                )
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def _importers(prefixes: tuple[str, ...], of: tuple[str, ...]) -> list[str]:
    files = source_files()
    return sorted(
        f"{module} imports {name}"
        for module, path in files.items()
        if module.startswith(prefixes)
        for name in imported_names(path)
        if name == "sqlalchemy" or name.startswith(of)
    )


def test_models_and_features_do_no_io() -> None:
    assert _importers(("models", "features"), ("data.stores", "sqlalchemy.")) == []
    assert _importers(("services",), ("data.stores",))  # the check reads imports: the services' are seen


def test_calls_are_not_a_model_input() -> None:
    """Training, features and models never read the reminder calls, so a model trained after a
    call campaign is not fitted on it."""
    readers = [
        f"{module} imports {name}"
        for module, path in source_files().items()
        if module.startswith(("training", "features", "models"))
        for name in imported_names(path)
        if name.startswith(("data.stores.calls", "services.calls"))
    ]
    assert readers == []
    calls_service = imported_names(source_files()["services.calls"])
    assert any(name.startswith("data.stores.calls") for name in calls_service)  # the check sees them


def test_no_route_or_page_imports_a_store() -> None:
    assert _importers(("serving.routes", "serving.pages"), ("data.stores", "sqlalchemy.")) == []


def test_the_type_only_import_of_a_circle_is_seen(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from models.trained import T\n"
    )
    assert imported_modules(module, {"models.trained"}) == {"models.trained"}
