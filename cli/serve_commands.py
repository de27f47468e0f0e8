"""Commands that run and introduce the service: serve, API keys, example requests."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from cli.common import exits, settings
from config import ROLES

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Uvicorn worker processes.")] = 1,
) -> None:
    """Serve the scoring API with uvicorn; both @champion models load at start-up in every worker."""
    from data.feeds.code_tables import CodeTableError, CodeTables
    from data.reference import ReferenceTableError, load_appeals, load_payers
    from serving.workers import serve as run

    configured = settings()
    with exits(CodeTableError, ReferenceTableError, then="; not started"):  # one line, not a traceback
        CodeTables.load(configured.code_tables)
        load_payers(configured.reference_dir)
        load_appeals(configured.reference_dir)

    code = run(host, port, workers)
    if code:
        raise typer.Exit(code=code)


@app.command()
def keys(
    file: Annotated[Path, typer.Option(help="Where to keep the keys (git-ignored).")] = Path(
        ".careops/api-keys"
    ),
) -> None:
    """Create one system API key per role (256 bits) in FILE (0600) if it does not exist; never shown."""
    if file.exists():
        typer.echo(f"API keys already in {file} (set CAREOPS_API_KEYS_FILE={file} to use them)")
        return
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = [f"{secrets.token_urlsafe(32)}:{role}" for role in ROLES]
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    typer.echo(f"Created one API key per role in {file} (readable by you only; not shown here)")


@app.command()
def examples(
    appointments: Annotated[Path, typer.Option(exists=True, help="Canonical appointments file.")],
    claims: Annotated[Path, typer.Option(exists=True, help="Canonical claims file.")],
    out: Annotated[Path, typer.Option(help="Folder for the request bodies.")] = Path(".careops/requests"),
    keys_file: Annotated[Path, typer.Option(help="The API keys file.")] = Path(".careops/api-keys"),
    users_file: Annotated[Path, typer.Option(help="The demo users' credentials file.")] = Path(
        ".careops/demo-users"
    ),
    base_url: Annotated[str, typer.Option(help="Where the API listens.")] = "http://127.0.0.1:8000",
    rows: Annotated[int, typer.Option(min=1, max=100)] = 3,
) -> None:
    """Write example request bodies from canonical files and print a curl for each route."""
    from models.tasks import caller_records, get_task

    out.mkdir(parents=True, exist_ok=True)
    bodies = {"noshow": ("appointments", appointments), "denial": ("claims", claims)}
    for task_name, (field, path) in bodies.items():
        task = get_task(task_name)
        records = caller_records(task, task.load(path).valid.tail(rows))
        (out / f"{task_name}-score.json").write_text(json.dumps({field: records}, indent=2), encoding="utf-8")
    role_of = {"noshow": "scheduler", "denial": "biller"}
    typer.echo("\nTry it (keys are read from the git-ignored key file):")
    for task_name, role in role_of.items():
        key = f"$(grep ':{role}$' {keys_file} | cut -d: -f1)"
        typer.echo(
            f"  curl -s -X POST {base_url}/v1/{task_name}/score -H 'Content-Type: application/json' "
            f'-H "X-API-Key: {key}" -d @{out}/{task_name}-score.json'
        )
    typer.echo(f"  curl -s {base_url}/health/ready")
    typer.echo(f"  open {base_url}/docs for the OpenAPI documentation")
    typer.echo(
        f"  open {base_url}/app/ and sign in as sam (scheduler), bea (biller) or ada (admin, with a TOTP "
        f"code): their first-time passwords and ada's TOTP secret are in {users_file} (readable by you "
        "only); each chooses a new password at first sign-in\n"
    )
