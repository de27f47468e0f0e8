"""The code and requirements a registered version carries: the pyfunc's own imports, renamed."""

from __future__ import annotations

import ast
from importlib import metadata
from pathlib import Path

import mlflow
import mlflow.artifacts
import pytest

from tests.helpers import TrainedStore
from training.model_code import OURS, PACKAGE, closure, renamed, requirements, write_package


def _absolute_imports(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_package_holds_the_pyfuncs_imports_under_its_own_name_and_nothing_of_the_service(
    tmp_path: Path,
) -> None:
    package = write_package(tmp_path)
    files = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {"models/pyfunc.py", "models/trained.py", "features/history.py", "data/schemas.py"} <= files
    assert {"data/reference/payers.csv", "data/reference/procedures.csv"} <= files  # data it reads
    assert not [f for f in files if f.startswith(("data/stores", "services", "serving", "training"))]
    for name in (f for f in files if f.endswith(".py")):
        source = (package / name).read_text(encoding="utf-8")
        ours = [i for i in _absolute_imports(source) if i.split(".")[0] in (*OURS, PACKAGE)]
        assert all(i.startswith(f"{PACKAGE}.") for i in ours), (name, ours)
        assert 'resources.files("data' not in source, name


def test_renaming_touches_imports_of_our_packages_only() -> None:
    source = (
        "from models.tasks import Task\nimport dataclasses\nfrom dataclasses import field\n"
        "    from features.history import add_history\nimport data.schemas as schemas\n"
        "text = 'from models.x import y'\n"
    )
    assert renamed(source) == (
        f"from {PACKAGE}.models.tasks import Task\nimport dataclasses\nfrom dataclasses import field\n"
        f"    from {PACKAGE}.features.history import add_history\nimport {PACKAGE}.data.schemas as schemas\n"
        "text = 'from models.x import y'\n"
    )


def test_the_closure_skips_what_only_type_checkers_import() -> None:
    modules, others = closure()
    assert "models.pyfunc" in modules and "models.scorer" in modules
    assert not [m for m in modules if m.startswith("data.stores")]
    assert "sqlalchemy" not in others and "fastapi" not in others


def test_requirements_are_what_the_code_imports_pinned_as_installed() -> None:
    pinned = dict(line.split("==") for line in requirements())
    imported = {"annotated-types", "lightgbm", "mlflow", "numba", "numpy", "pandas", "pydantic", "scipy"}
    assert set(pinned) == imported | {"scikit-learn"}
    assert all(pinned[name] == metadata.version(name) for name in pinned)


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_a_registered_version_carries_the_package_and_those_requirements(
    trained_store: TrainedStore, task_name: str
) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{task_name}@champion"))
    assert (folder / "requirements.txt").read_text(encoding="utf-8").split() == requirements()
    assert (folder / "code" / PACKAGE / "models" / "pyfunc.py").is_file()
    flavor = (folder / "MLmodel").read_text(encoding="utf-8")
    assert "code: code" in flavor
    assert f"from {PACKAGE}.models.pyfunc import CareopsModel" in (folder / "careops_model.py").read_text()
