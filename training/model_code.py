"""The code a registered version carries: careops's scoring modules under a name of their own.

The pyfunc imports `models.pyfunc`, which imports part of `models/`, `features/` and `data/`. Those
names are common, so the version does not carry them as they are: each module of the import
closure is copied into one package, `careops_model`, with its imports of our packages renamed
(`from models.tasks import Task` becomes `from careops_model.models.tasks import Task`). Logged
as `code_paths`, the package loads wherever MLflow can, beside any other project's `models`.
The requirements are what those modules import, pinned to the versions installed now.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = "careops_model"
ENTRY = "models.pyfunc"  # the module the version's model code imports
OURS = ("data", "features", "models")
ROOT = Path(__file__).resolve().parents[1]
_IMPORT = re.compile(rf"^(\s*)(from|import) ({'|'.join(OURS)})(?=[.\s])", re.MULTILINE)

MODEL_CODE = f'''"""careops's model: the code it runs is in code/{PACKAGE}, carried with this version."""

from mlflow.models import set_model

from {PACKAGE}.models.pyfunc import CareopsModel

set_model(CareopsModel())
'''


def module_file(name: str) -> Path | None:
    """The source file of one of our modules (a package's `__init__.py`); None for another name."""
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.Module) -> list[str]:
    """Every absolute import in a module, at any depth, except those only type checkers run."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule by name
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@cache
def closure(entry: str = ENTRY) -> tuple[tuple[str, ...], frozenset[str]]:
    """Our modules `entry` needs (with their packages), sorted; and the other top-level imports."""
    ours: set[str] = set()
    others: set[str] = set()
    pending = [entry]
    while pending:
        name = pending.pop()
        if name in ours:
            continue
        ours.add(name)
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # the packages above it
        source = module_file(name)
        if source is None:
            raise ModuleNotFoundError(f"{name} is not one of careops's modules")
        for imported in _imports(ast.parse(source.read_text(encoding="utf-8"))):
            top = imported.split(".")[0]
            if top not in OURS:
                others.add(top)
            elif module_file(imported) is not None:  # `from models.x import name`: a name, not a module
                pending.append(imported)
    return tuple(sorted(ours)), frozenset(others - set(sys.stdlib_module_names) - {"__future__"})


def renamed(source: str) -> str:
    """A module's source with its imports of our packages under PACKAGE."""
    return _IMPORT.sub(rf"\1\2 {PACKAGE}.\3", source)


def write_package(folder: Path, entry: str = ENTRY) -> Path:
    """`folder/PACKAGE`: the renamed modules `entry` needs, and their packages' data files."""
    package = folder / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""careops\'s scoring code, as logged with a registered model (generated)."""\n', encoding="utf-8"
    )
    modules, _ = closure(entry)
    for name in modules:
        source = module_file(name)
        assert source is not None  # closure() found it
        target = package / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(renamed(source.read_text(encoding="utf-8")), encoding="utf-8")
        if source.name == "__init__.py":
            for data in source.parent.iterdir():
                if data.is_file() and data.suffix not in (".py", ".pyc"):
                    shutil.copyfile(data, target.parent / data.name)
    return package


def requirements(entry: str = ENTRY) -> list[str]:
    """`name==version` of each distribution the code imports, as installed now, sorted."""
    _, others = closure(entry)
    providers = metadata.packages_distributions()
    missing = sorted(top for top in others if top not in providers)
    if missing:
        raise RuntimeError(f"no installed distribution provides {', '.join(missing)}")
    names = set()
    for top in others:
        # mlflow is provided by mlflow, mlflow-skinny and mlflow-tracing: the one of its own name
        # pins the others.
        same = [name for name in providers[top] if _normalized(name) == _normalized(top)]
        names.update(same or providers[top])
    return sorted(f"{name}=={metadata.version(name)}" for name in names)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@contextmanager
def importable(folder: Path) -> Iterator[None]:
    """PACKAGE importable from `folder` while MLflow runs the model code to log it; afterwards the
    process has the PACKAGE modules it had before (careops itself scores with its own modules)."""
    before = {n: m for n, m in sys.modules.items() if n == PACKAGE or n.startswith(f"{PACKAGE}.")}
    for name in before:  # a copy imported earlier (a version loaded through MLflow) is not this one
        del sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]
        sys.modules.update(before)
