"""Small modules and functions: none over 450 and 80 lines, outside the tests."""

from __future__ import annotations

import ast

from tests.source_tree import source_files

MAX_MODULE_LINES, MAX_FUNCTION_LINES = 450, 80


def test_no_module_or_function_is_too_long() -> None:
    files = source_files()
    assert len(files) > 100  # the walk found the house
    long_modules = {
        m: n for m, p in files.items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    long_functions = {
        f"{module}.{node.name}": node.end_lineno - node.lineno + 1
        for module, path in files.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert long_modules == {} and long_functions == {}
