"""Validation by column: a canonical model's own field rules applied to whole columns at once.

The rules are read from the pydantic model itself (types, bounds, lengths, allowed values, the
date range, the order of two times), so each rule is written once. A cell in a plain form (text as
a CSV holds it, or a typed column) is judged here; a row with any cell in another form, or any
rule broken, goes through the model row by row, which gives the same answer and words the reason.
A property test holds the two paths to the same result.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import annotated_types
import numpy as np
import pandas as pd
from pydantic import BaseModel

from data.schemas import EARLIEST, LATEST, Flag

DATETIME_TEXT = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"
INTEGER_TEXT = r"-?(?:0|[1-9]\d{0,8})"
# As `Flag` reads them (1.0 / 0.0 are a spreadsheet's booleans); other spellings go to the model.
TRUE_TEXT, FALSE_TEXT = ("true", "True", "1", "1.0"), ("false", "False", "0", "0.0")
# Every character Python's str.isspace() or pydantic (Unicode White_Space) may strip, as a class
# that pyarrow's regex engine reads too: strings with one at an edge go to the model.
_SPACES = "".join(re.escape(chr(code)) for code in range(0x3001) if chr(code).isspace())
EDGE_SPACE = f"^[{_SPACES}]|[{_SPACES}]$"
FLAG_READER = typing.get_args(Flag)[1].func  # how `Flag` reads a cell: marks a field as a flag


@dataclass(frozen=True)
class Judged:
    """Per row: whether every cell passed here, and each column's canonical values (where it did)."""

    accepted: np.ndarray
    values: dict[str, pd.Series]


def _missing(column: pd.Series) -> np.ndarray:
    return column.isna().to_numpy()


def _is_text(column: pd.Series) -> bool:
    """Text cells: pandas' string dtype (how CSVs are read), or objects, checked cell by cell below."""
    return column.dtype == object or isinstance(column.dtype, pd.StringDtype)


def _text_cells(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(plain, column): in an object column, cells that are neither text nor missing (a number, a
    time, a list) are not plain; they are blanked here and their rows go to the model."""
    if column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return np.ones(len(column), dtype=bool), column
    other = ~column.map(lambda cell: isinstance(cell, str)).to_numpy(dtype=bool) & ~_missing(column)
    return ~other, column.where(~other, None)


def _text(column: pd.Series, rules: Any) -> tuple[np.ndarray, pd.Series]:
    if not _is_text(column):
        return np.zeros(len(column), dtype=bool), column
    # Only ASCII spaces at the edges are stripped here: where Python and pydantic might disagree
    # on what else is whitespace, the row goes to the model.
    stripped = column.str.strip(" \t\r\n")
    lengths = stripped.str.len()
    edges = stripped.str.contains(EDGE_SPACE, na=True)
    ok = (lengths >= rules.min_length) & (lengths <= rules.max_length) & ~edges
    return ok.fillna(False).to_numpy(dtype=bool), stripped


def _moment(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    if pd.api.types.is_datetime64_dtype(column.dtype):
        parsed = column
    elif _is_text(column):
        plain = column.str.fullmatch(DATETIME_TEXT, na=False)
        parsed = pd.to_datetime(column.where(plain), format="ISO8601", errors="coerce")
    else:
        return np.zeros(len(column), dtype=bool), pd.Series(
            pd.NaT, index=column.index, dtype="datetime64[us]"
        )
    days = parsed.dt.normalize()
    in_range = (days >= pd.Timestamp(EARLIEST)) & (days <= pd.Timestamp(LATEST))
    return (parsed.notna() & in_range).to_numpy(dtype=bool), parsed


def _integer(column: pd.Series, bounds: list[Any]) -> tuple[np.ndarray, pd.Series]:
    if _is_text(column):
        plain = column.str.fullmatch(INTEGER_TEXT, na=False)
        numbers = column.where(plain, None).astype("float64")  # digits only, at most 10: exact
    elif pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_float_dtype(column.dtype):
        numbers = column.astype("float64")
        numbers = numbers.where(np.floor(numbers) == numbers)
    else:
        return np.zeros(len(column), dtype=bool), column
    ok = numbers.notna()
    for bound in bounds:
        if isinstance(bound, annotated_types.Ge):
            ok &= numbers >= bound.ge
        elif isinstance(bound, annotated_types.Gt):
            ok &= numbers > bound.gt
        elif isinstance(bound, annotated_types.Le):
            ok &= numbers <= bound.le
        elif isinstance(bound, annotated_types.Lt):
            ok &= numbers < bound.lt
    return ok.to_numpy(dtype=bool), numbers.where(ok, 0).astype("int64")


def _flag(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    if column.dtype == bool:
        return np.ones(len(column), dtype=bool), column.astype(object)
    if pd.api.types.is_float_dtype(column.dtype):  # 1.0 / 0.0 / missing, as a typed signature sends it
        values = pd.Series(np.where(column == 1, True, False), index=column.index, dtype=object)
        return column.isin((0.0, 1.0)).to_numpy(dtype=bool), values
    if not _is_text(column):
        return np.zeros(len(column), dtype=bool), column
    # Only text cells: in an object column True or 1 would match "1" too, and goes to the model.
    exact = column.map(type).eq(str).to_numpy() if column.dtype == object else np.ones(len(column), bool)
    true, false = column.isin(TRUE_TEXT).to_numpy(), column.isin(FALSE_TEXT).to_numpy()
    values = pd.Series(np.where(true, True, np.where(false, False, None)), index=column.index, dtype=object)
    return (true | false) & exact, values


def _choice(column: pd.Series, choices: tuple[str, ...]) -> tuple[np.ndarray, pd.Series]:
    if not _is_text(column):
        return np.zeros(len(column), dtype=bool), column
    return column.isin(choices).to_numpy(dtype=bool), column


def _judge(column: pd.Series, annotation: Any, metadata: list[Any]) -> tuple[np.ndarray, pd.Series] | None:
    """(accepted, values) for one required column of a supported kind; None for other kinds."""
    string_rules = [m for m in metadata if type(m).__name__ == "StringConstraints"]
    if annotation is str and string_rules and string_rules[0].strip_whitespace:
        return _text(column, string_rules[0])
    if annotation is datetime:
        return _moment(column)
    if annotation is int:
        return _integer(column, metadata)
    if annotation is bool and any(getattr(m, "func", None) is FLAG_READER for m in metadata):
        return _flag(column)
    if typing.get_origin(annotation) is Literal and all(
        isinstance(a, str) for a in typing.get_args(annotation)
    ):
        return _choice(column, typing.get_args(annotation))
    return None


def _optional(annotation: Any) -> tuple[Any, list[Any]] | None:
    """The inner type and its metadata of `X | None`, or None if the annotation is not optional."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    inner = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(inner) != 1:
        return None
    if typing.get_origin(inner[0]) is typing.Annotated:
        base, *metadata = typing.get_args(inner[0])
        return base, list(metadata)
    return inner[0], []


def judge_columns(frame: pd.DataFrame, model: type[BaseModel]) -> Judged | None:
    """Judge every row of `frame` by `model`'s field rules; None if a field is of another kind.

    A row is accepted only if every field passed here; the rest go to the model row by row.
    """
    validators = set(model.__pydantic_decorators__.model_validators)
    order = getattr(model, "time_order", None)
    if validators - ({"_booked_before_start"} if order else set()):
        return None
    accepted = np.ones(len(frame), dtype=bool)
    values: dict[str, pd.Series] = {}
    for name, field in model.model_fields.items():
        if name not in frame.columns:
            if field.is_required():
                return None
            values[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            continue
        plain, column = _text_cells(frame[name])
        accepted &= plain
        optional = _optional(field.annotation)
        if optional is not None:
            inner, metadata = optional
            judged = _judge(column, inner, [*metadata, *field.metadata])
            if judged is None:
                return None
            ok, judged_values = judged
            missing = _missing(column)
            accepted &= ok | missing
            if judged_values.dtype.kind == "M":  # times keep their dtype: NaT is missing enough
                values[name] = judged_values.where(~missing)
            else:
                values[name] = judged_values.astype(object).where(~missing, None)
        else:
            judged = _judge(column, field.annotation, field.metadata)
            if judged is None:
                return None
            ok, values[name] = judged
            accepted &= ok
    if order:
        first, then = order
        earlier, later = values[first], values[then]
        # An optional first time may be missing (NaT): the order then holds.
        accepted &= ((later >= earlier).fillna(False) | earlier.isna()).to_numpy(dtype=bool)
    return Judged(accepted, values)
