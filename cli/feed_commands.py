"""Commands that bring a practice's feeds in: X12 837/835 and HL7 v2 files, and the MLLP listener."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import QUARANTINED_EXIT_CODE, exits, fail, operator, settings

ingest_app = typer.Typer(help="Bring a practice's own files in as canonical tables.", no_args_is_help=True)


@ingest_app.command("x12")
def ingest_x12_files(
    out: Annotated[Path, typer.Option(help="Canonical claims with labels (.csv or .parquet).")],
    claims: Annotated[
        list[Path] | None, typer.Option(exists=True, dir_okay=False, help="837 files (repeat).")
    ] = None,
    remits: Annotated[
        list[Path] | None, typer.Option(exists=True, dir_okay=False, help="835 files (repeat).")
    ] = None,
    acks: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="277CA acknowledgment files (005010X214; repeat)."),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            help="Also record the valid claims in the claim store, as history for denial scores, and "
            "mark the worklist's claims rejected, acknowledged, denied or paid as the files say."
        ),
    ] = False,
) -> None:
    """Canonical claims from 837 files, labelled (denied, category, CARC/RARC, paid) from 835 files;
    front-end rejections and acceptances from 277CA files (never labels: a rejection is not a denial)."""
    from data.loaders.tables import UnsupportedFormatError, table_format, write_table
    from services.x12_ingest import ingest_x12

    with exits(UnsupportedFormatError, prefix="--out "):
        table_format(out)
    if not (claims or remits or acks):
        raise fail("give at least one --claims, --remits or --acks file")
    frame, report = ingest_x12(claims or [], remits or [], acks or [])
    for error in report.file_errors:
        typer.echo(f"error: {error} (file rejected; the others were read)", err=True)
    write_table(frame, out)
    typer.echo(
        f"wrote {len(frame)} claims to {out}: {report.labelled} labelled from "
        f"{report.remittances} remittances"
    )
    typer.echo(f"  claims without a remittance: {len(report.claims_without_remittance)}")
    typer.echo(
        f"  remittances without a claim: {len(report.remittances_without_claim)} "
        f"{report.remittances_without_claim[:10]}"
    )
    typer.echo(f"  predeterminations / forwarded (not labelled): {len(report.unlabelled_payments)}")
    undated = len(report.payments_without_date)
    typer.echo(f"  labelled without a payment date (BPR16), so not payer history: {undated}")
    rejected = sum(a.rejected for a in report.acknowledgments)
    typer.echo(f"  277CA statuses: {len(report.acknowledgments)} ({rejected} rejected at the front end)")
    if record:
        _record(frame, report)
    if report.file_errors:
        typer.echo(f"{len(report.file_errors)} file(s) rejected; see the errors above", err=True)
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


@ingest_app.command("hl7")
def ingest_hl7_files(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="HL7 v2 files.")],
    record: Annotated[
        bool, typer.Option(help="Apply the events to the appointment store (without it: only read).")
    ] = False,
) -> None:
    """Read HL7 v2 SIU (and ADT^A04) messages; report counts by event and why any was not used."""
    from data.feeds.code_tables import CodeTables
    from data.feeds.mllp import split_messages
    from data.feeds.siu import MessageError, read_message
    from services.container import Services
    from services.schedule_feed import FeedReport, ScheduleFeed

    config = settings()
    tables = CodeTables.load(config.code_tables)
    services = Services.open(config, log_scores=False) if record else None
    feed = (
        ScheduleFeed(services.appointments, services.audit, operator(), config.horizon_days)
        if services is not None
        else None
    )
    report = feed.report if feed is not None else FeedReport()
    unused = 0
    for path in files:
        for number, message in enumerate(split_messages(path.read_bytes()), start=1):
            try:
                event = read_message(message, tables)
                if feed is None:
                    report.messages[event.trigger] += 1
                    report.applied[event.kind] += 1
                else:
                    feed.apply(event)  # counts what it applies and what it cannot
            except MessageError as error:
                if error.unread:
                    report.unusable(error.trigger, error.reason)
                unused += 1
                typer.echo(f"{path.name} message {number}: {error.reason}", err=True)
    if services is not None:
        services.close()
    typer.echo("\n".join(report.lines()))
    if not record:
        typer.echo("(read only: --record applies the events to the appointment store)")
    if unused:
        raise typer.Exit(code=QUARANTINED_EXIT_CODE)


listen_app = typer.Typer(help="Listen for a practice system's feeds.", no_args_is_help=True)


@listen_app.command("hl7")
def listen_hl7(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MLLP port.")] = 2575,
    health_port: Annotated[
        int | None, typer.Option(help="Port for GET /health/live, /health/ready and /metrics.")
    ] = None,
    score: Annotated[
        bool,
        typer.Option(help="Score each booking on arrival with noshow@champion, into the prediction log."),
    ] = False,
    allow: Annotated[
        list[str] | None,
        typer.Option(help="A sender network (CIDR) to accept; repeat for more. Default: loopback only."),
    ] = None,
    max_connections: Annotated[int, typer.Option(min=1, help="Most connections at once.")] = 50,
    idle_seconds: Annotated[float, typer.Option(min=1, help="Close a connection idle this long.")] = 300.0,
    frame_seconds: Annotated[
        float,
        typer.Option(min=1, help="Close a connection whose frame is unfinished this long after it began."),
    ] = 30.0,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain: serve MLLP over TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    tls_client_ca: Annotated[
        Path | None, typer.Option(help="PEM CA: senders must show a certificate it signed.")
    ] = None,
) -> None:
    """Receive HL7 v2 schedule messages over MLLP into the appointment store, with an ACK for each."""
    import asyncio
    import logging.config

    from serving.hl7_listener import listen
    from serving.mllp_policy import LOOPBACK, ListenerPolicy, networks, tls_context
    from serving.request_log import LOG_CONFIG

    if (tls_cert is None) != (tls_key is None) or (tls_client_ca is not None and tls_cert is None):
        raise fail("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
    try:
        policy = ListenerPolicy(
            networks(allow) if allow else LOOPBACK, max_connections, idle_seconds, frame_seconds,
            tls_context(tls_cert, tls_key, tls_client_ca) if tls_cert and tls_key else None,
        )  # fmt: skip
    except (ValueError, OSError) as error:  # a bad network, or a certificate or key not read
        raise fail(str(error)) from None

    config = {**LOG_CONFIG, "loggers": {**LOG_CONFIG["loggers"]}}
    config["loggers"]["careops.hl7"] = {"handlers": ["requests"], "level": "INFO", "propagate": False}
    logging.config.dictConfig(config)
    asyncio.run(listen(settings(), host, port, health_port, score, policy))


def _record(frame, report) -> None:
    """Record an ingest's claims as history and move the worklist's claims as its files say."""
    from data.loaders.canonical import load_claims
    from services.container import Services

    services = Services.open(settings(), log_scores=False)
    try:
        if len(frame):
            loaded = load_claims(frame)
            recorded = services.denial.record_table(operator(), loaded.valid, "cli")
            typer.echo(
                f"recorded {recorded} claims in the claim store; {len(loaded.quarantined)} invalid "
                f"ones were not ({loaded.reason_counts})"
            )
        done = services.worklist.acknowledge(operator(), report.acknowledgments, "cli")
        typer.echo(
            f"worklist: {done.rejected} claims marked rejected (fix and resubmit), {done.acknowledged} "
            f"acknowledged; {done.unchanged} statuses changed nothing (not listed, or older)"
        )
        settled = services.worklist.settle(operator(), report.payments, "cli")
        typer.echo(f"worklist: {settled} claims marked denied or paid from the remittances")
    finally:
        services.close()
