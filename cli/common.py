"""What every group of commands shares: argument types, logging, settings, and errors to exit codes."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from config import Settings
from services.access.principal import Principal, system

USAGE_EXIT_CODE = 2  # the input or the state cannot be used; nothing was done


class TableName(StrEnum):
    """Tables the synthetic generators make."""

    appointments = "appointments"
    claims = "claims"


class TaskName(StrEnum):
    """Prediction tasks."""

    noshow = "noshow"
    denial = "denial"


def configure_logging() -> None:
    """Plain, PHI-free log lines on stderr; MLflow's chatter kept to warnings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)


class FileFormat(StrEnum):
    """Input file formats."""

    careops = "careops"
    kaggle_noshow = "kaggle-noshow"


DataOption = Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV or Parquet file.")]


FormatOption = Annotated[
    FileFormat, typer.Option("--format", help="careops (canonical columns) or kaggle-noshow (public CSV).")
]


QUARANTINED_EXIT_CODE = 3  # some input was refused (rows or files); the rest was processed


def operator() -> Principal:
    """The principal of a command run at this machine: the operating-system user who ran it."""
    return system(f"operator:{getpass.getuser()}", source="cli")


def settings() -> Settings:
    """The settings from the environment (and a .env file), read when a command runs."""
    return Settings()


@contextmanager
def exits(*errors: type[Exception], then: str = "", prefix: str = "") -> Iterator[None]:
    """Turn the expected `errors` into "error: ..." on stderr and exit code 2; `then` is said after
    the message (for example "; nothing changed"), `prefix` before it (for example "--out ")."""
    try:
        yield
    except errors as error:
        typer.echo(f"error: {prefix}{error}{then}", err=True)
        raise typer.Exit(code=USAGE_EXIT_CODE) from None


def fail(message: str) -> typer.Exit:
    """Say "error: message" on stderr; the exit (code 2) for the caller to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=USAGE_EXIT_CODE)
