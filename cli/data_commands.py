"""Commands for tables and stores: synthetic data, a first-run day, booking and queueing files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import QUARANTINED_EXIT_CODE, TableName, fail, operator, settings

app = typer.Typer()


@app.command()
def generate(
    table: Annotated[TableName, typer.Argument(help="Which table to generate.")],
    out: Annotated[Path, typer.Option(help="Output file; .csv, .csv.gz or .parquet.")],
    rows: Annotated[int, typer.Option(min=1, help="Number of rows.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 42,
    clinic_opens: Annotated[
        str | None,
        typer.Option(
            help="Appointments only: from this day (YYYY-MM-DD) a new clinic C09 takes 35% of the "
            "bookings, with more no-shows and reminders that do not work (a drift scenario)."
        ),
    ] = None,
    cancellations: Annotated[
        bool,
        typer.Option(
            help="Appointments only: some visits are cancelled, about half of those within a day of "
            "their start (see CAREOPS_LATE_CANCEL_HOURS)."
        ),
    ] = True,
    payer_tightens: Annotated[
        str | None,
        typer.Option(
            help="Claims only: for services from this day (YYYY-MM-DD) payer COM-BCBS rejects half "
            "its claims for missing information (a drift scenario)."
        ),
    ] = None,
) -> None:
    """Generate a synthetic canonical table, with each row's true probability in extra columns."""
    from datetime import date

    from data.loaders.canonical import claims_for_file
    from data.loaders.tables import write_table
    from data.synthetic.appointments import Cancellations, ClinicOpens, generate_appointments
    from data.synthetic.claims import PayerTightens, generate_claims

    wanted = TableName.appointments if clinic_opens else TableName.claims if payer_tightens else table
    if wanted is not table:
        raise fail(f"that shift applies to {wanted.value} only")
    try:
        day = date.fromisoformat(clinic_opens or payer_tightens) if clinic_opens or payer_tightens else None
    except ValueError:
        raise fail("a shift's start must be a date such as 2026-05-04") from None
    if table is TableName.appointments:
        frame = generate_appointments(
            rows,
            seed=seed,
            shift=ClinicOpens(day) if day else None,
            cancellations=Cancellations() if cancellations else None,
        )
    else:
        frame = claims_for_file(generate_claims(rows, seed=seed, shift=PayerTightens(day) if day else None))
    write_table(frame, out)
    typer.echo(f"wrote {len(frame)} synthetic {table.value} to {out}")


@app.command()
def acknowledgments(
    claims: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Canonical claims file.")],
    out: Annotated[Path, typer.Option(help="The 277CA file to write.")],
    truth: Annotated[Path, typer.Option(help="Each claim's status, to check against (.csv or .parquet).")],
    share: Annotated[float, typer.Option(min=0, max=1, help="Share rejected at the front end.")] = 0.08,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """A synthetic 277CA for submitted claims (a share rejected at the front end), and its truth."""
    from data.loaders.canonical import load_claims
    from data.loaders.tables import read_table, write_table
    from data.synthetic.acknowledgments import acknowledge
    from data.x12.writer import write_277ca

    statuses = acknowledge(load_claims(read_table(claims)).valid, share, seed)
    write_277ca(statuses.to_dict("records"), out)
    write_table(statuses, truth)
    typer.echo(f"wrote {len(statuses)} claim statuses to {out} ({int((~statuses.accepted).sum())} rejected)")


@app.command()
def tomorrow(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Canonical appointments.")],
    out: Annotated[Path, typer.Option(help="Where to write tomorrow's schedule (.csv or .parquet).")],
    day: Annotated[
        str | None, typer.Option(help="The day to move it to (default: the next weekday after today).")
    ] = None,
    claims: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Canonical claims: the latest become claims to submit."
        ),
    ] = None,
    claims_out: Annotated[Path | None, typer.Option(help="Where to write the claims to submit.")] = None,
) -> None:
    """Write the file's latest day of appointments moved to tomorrow, unlabelled: a first-run day."""
    from datetime import date, timedelta

    from data.loaders.tables import read_table, write_table
    from data.synthetic.tomorrow import claims_to_submit, tomorrow_schedule

    target = date.fromisoformat(day) if day else date.today() + timedelta(days=1)
    while day is None and target.weekday() >= 5:
        target += timedelta(days=1)
    schedule = tomorrow_schedule(read_table(data), target)
    write_table(schedule, out)
    typer.echo(f"wrote {len(schedule)} appointments for {target.isoformat()} to {out}")
    if claims is not None and claims_out is not None:
        to_submit = claims_to_submit(read_table(claims), target)
        write_table(to_submit, claims_out)
        typer.echo(f"wrote {len(to_submit)} claims to submit on {target.isoformat()} to {claims_out}")


@app.command()
def book(
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Canonical appointments.")],
) -> None:
    """Book a file of appointments in the appointment store; invalid rows are listed with why."""
    from data.loaders.canonical import load_appointments
    from services.container import Services

    config = settings()
    loaded = load_appointments(data)
    services = Services.open(config, log_scores=False)
    try:
        booked = services.noshow.book_table(operator(), loaded.valid, config.horizon_days, "cli")
    finally:
        services.close()
    typer.echo(
        f"booked {booked} appointments; {len(loaded.quarantined)} rows not valid {loaded.reason_counts}"
    )
    if len(loaded.quarantined):
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


@app.command()
def queue(
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Canonical claims (.csv or .parquet).")
    ],
) -> None:
    """Score claims about to be submitted with denial@champion and put them on the biller's worklist."""
    from data.loaders.canonical import load_claims
    from data.schemas import Claim
    from models.tasks import caller_records, get_task
    from services.container import Services

    config = settings()
    loaded = load_claims(data)
    claims = [Claim.model_validate(r) for r in caller_records(get_task("denial"), loaded.valid)]
    services = Services.open(config, log_scores=False)
    try:
        services.models.refresh(config)
        added, updated = services.worklist.add(operator(), claims, "cli")
    finally:
        services.close()
    typer.echo(f"worklist: {added} claims added, {updated} updated; {len(loaded.quarantined)} rows not valid")
    if len(loaded.quarantined):
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)
