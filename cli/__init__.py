"""The one careops command line, above every package; each group of commands lives in its module."""

from __future__ import annotations

import typer

from cli import (
    access_commands,
    data_commands,
    feed_commands,
    scoring_commands,
    serve_commands,
    training_commands,
)

app = typer.Typer(
    name="careops", help="No-show and claim-denial risk: data, training and serving.", no_args_is_help=True
)
for group in (data_commands, training_commands, scoring_commands, serve_commands, access_commands):
    app.add_typer(group.app)
app.add_typer(feed_commands.ingest_app, name="ingest")
app.add_typer(feed_commands.listen_app, name="listen")
