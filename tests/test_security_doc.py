"""docs/security.md: every row of the HIPAA table names tests that exist in this suite (and so run
with it), and the doc names no test that is not there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_row_of_the_safeguards_table_names_tests_that_exist() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    table = text.split("## HIPAA 164.312")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| 164.312") or line.startswith("| (")]
    assert len(rows) >= 8
    named = 0
    for row in rows:
        last_file = None
        for match in re.finditer(r"`(tests/[\w/]+\.py)?(?:::)?(\w+)?`", row):
            path, name = match.group(1), match.group(2)
            last_file = path or last_file
            assert last_file is not None and (ROOT / last_file).is_file(), row
            if name:
                tree = ast.parse((ROOT / last_file).read_text(encoding="utf-8"))
                assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, (
                    last_file,
                    name,
                )
            named += 1
    assert named >= 12
