"""The MLLP listener: HL7 v2 schedule messages from an interface engine into the appointment store.

One asyncio server. Each connection's messages are applied in the order they arrive and each gets
its ACK before the next is read, as MLLP senders expect. Store writes run on one worker thread, so
that messages from several connections never write at once. A health and metrics port answers
GET /health/live, /health/ready and /metrics. SIGTERM or SIGINT stops accepting, lets each message
in hand finish, and exits.

With `score`, each booking or change is scored by noshow@champion as it arrives (after its ACK is
decided, on the store thread), so that the day's risks sit in the prediction log before anyone
asks; a scoring failure never turns an applied message into an error.

The log holds triggers, results and reasons: never a message's content, ids or the peer's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from config import Settings
from data.feeds.code_tables import CodeTables
from data.feeds.mllp import ack, frame, next_frame
from data.feeds.siu import MessageError, ScheduleEvent, read_message
from data.schemas import Appointment
from services.access.principal import Principal, system
from services.container import Services
from services.noshow import Booking
from services.schedule_feed import BOOKINGS, ScheduleFeed
from serving.memory import return_freed_memory
from serving.mllp_policy import ListenerPolicy

log = logging.getLogger("careops.hl7")
MAX_MESSAGE_BYTES = 1024 * 1024
LARGE_BUFFER_BYTES = 64 * 1024
NEEDS_TOKEN = b'{"detail":"/metrics needs the metrics token (CAREOPS_METRICS_TOKEN)"}'


@dataclass(frozen=True)
class MessageOutcome:
    """What one message came to: its ACK code, the trigger, and what was done or why not."""

    code: str
    trigger: str
    result: str


def sender_of(writer: asyncio.StreamWriter) -> Principal:
    """Who a connection's messages come from, for the audit trail: the feed, from the sender's
    address; over TLS with a client certificate, named by the certificate's common name."""
    peer = writer.get_extra_info("peername")
    address = str(peer[0]) if peer else "hl7"
    subject = (writer.get_extra_info("peercert") or {}).get("subject", ())
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return system(f"hl7:{names[0]}" if names else "hl7-feed", source=address)


class ListenerMetrics:
    """The listener's own registry: messages by trigger and result, connections, dropped bytes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "careops_hl7_messages", "HL7 messages by trigger and ACK code", ["trigger", "ack"],
            registry=self.registry,
        )  # fmt: skip
        self.connections = Gauge("careops_hl7_connections", "Open MLLP connections", registry=self.registry)
        self.dropped = Counter(
            "careops_hl7_dropped_bytes", "Bytes received outside any MLLP frame", registry=self.registry
        )
        self.closed = Counter(
            "careops_hl7_closed_connections", "Connections closed, by why", ["why"], registry=self.registry
        )
        self.scored = Counter(
            "careops_hl7_scored", "Bookings scored on arrival, by result", ["result"], registry=self.registry
        )


class Listener:
    """Reads frames, applies messages to the store and answers each with its ACK."""

    def __init__(self, settings: Settings, score: bool = False, policy: ListenerPolicy | None = None) -> None:
        self.policy = policy or ListenerPolicy()
        self.metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        self.open_connections = 0
        self.tables = CodeTables.load(settings.code_tables)
        self.services = Services.open(settings, log_scores=score)
        self.store = self.services.appointments
        self.who = system("hl7-feed", source="hl7")
        self.feed = ScheduleFeed(self.store, self.services.audit, self.who, settings.horizon_days)
        self.scoring = score
        if score:
            self.services.models.refresh(settings)
        self.metrics = ListenerMetrics()
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="careops-hl7-store")
        self.readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="careops-hl7-read")
        self.tasks: set[asyncio.Task] = set()
        self.busy: set[asyncio.Task] = set()  # connections with a message in hand
        self.stopping = False

    def process(self, message: bytes, sender: Principal | None = None) -> tuple[bytes, MessageOutcome]:
        """Read and apply one message; its ACK and what it came to."""
        return self.apply(message, self.read(message), sender)

    def read(self, message: bytes) -> ScheduleEvent | MessageError:
        """Read one message (any thread: reading is bounded and touches no store)."""
        try:
            return read_message(message, self.tables)
        except MessageError as error:
            return error

    def apply(
        self, message: bytes, event: ScheduleEvent | MessageError, sender: Principal | None = None
    ) -> tuple[bytes, MessageOutcome]:
        """Apply a message read (on the store thread) from `sender` (`sender_of`; the feed itself
        when not named) into the trail; its ACK and what it came to."""
        who = sender or self.who
        if isinstance(event, MessageError):
            error = event
            self.feed.report.unusable(error.trigger, error.reason)
            code = "AR" if error.reject else "AE"
            return ack(message, code, error.reason), MessageOutcome(code, error.trigger, error.reason)
        try:
            done = self.feed.apply(event, who)
        except MessageError as error:
            return ack(message, "AE", error.reason), MessageOutcome("AE", event.trigger, error.reason)
        except Exception as error:  # a store failure: AE, so that the engine sends it again
            reason = f"careops could not store the message ({type(error).__name__})"
            return ack(message, "AE", reason), MessageOutcome("AE", event.trigger, reason)
        if self.scoring and done in BOOKINGS and event.appointment_id:
            self._score(event.appointment_id, who)
        return ack(message, "AA", done), MessageOutcome("AA", event.trigger, done)

    def _score(self, appointment_id: str, who: Principal) -> None:
        """Score the stored booking with the champion and log it (scoring never fails a message)."""
        try:
            stored = self.store.bookings_of([appointment_id])[appointment_id]
            record = Appointment.model_validate(stored.record)
            self.services.noshow.score(who, [record], "hl7", Booking.STORED)
            self.metrics.scored.labels("scored").inc()
        except Exception as error:  # a model missing or failing: the booking is stored all the same
            self.metrics.scored.labels(type(error).__name__).inc()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: frames in, ACKs out, until the peer closes or sends what is not MLLP."""
        peer = writer.get_extra_info("peername")
        refused = self._refusal(str(peer[0]) if peer else "")
        if refused is not None:
            self.metrics.closed.labels(refused).inc()
            log.info(json.dumps({"connection": "refused", "why": refused}))
            writer.close()
            return
        sender = sender_of(writer)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        self.open_connections += 1
        self.metrics.connections.inc()
        buffer = bytearray()
        why = "peer closed"
        loop = asyncio.get_running_loop()
        frame_due: float | None = None  # when the frame under way must be complete
        largest = 0  # the most the buffer held
        try:
            while True:
                try:
                    message, dropped = next_frame(buffer, MAX_MESSAGE_BYTES)
                except ValueError:
                    why = "frame over the size limit"
                    break
                if dropped:
                    self.metrics.dropped.inc(dropped)
                if message is None:
                    if self.stopping:
                        why = "listener stopping"
                        break
                    if buffer and frame_due is None:
                        frame_due = loop.time() + self.policy.frame_seconds
                    wait = self.policy.idle_seconds if frame_due is None else frame_due - loop.time()
                    try:
                        chunk = await asyncio.wait_for(reader.read(65536), max(wait, 0.0))
                    except TimeoutError:
                        why = "idle" if frame_due is None else "frame too slow"
                        break
                    if not chunk:
                        why = "peer closed mid-frame" if buffer else "peer closed"
                        break
                    buffer += chunk
                    largest = max(largest, len(buffer))
                    continue
                frame_due = loop.time() + self.policy.frame_seconds if buffer else None
                if task is not None:
                    self.busy.add(task)
                # Read off the store thread, so that one sender's large frame does not hold up the
                # others' messages; only applying is one at a time.
                event = await loop.run_in_executor(self.readers, self.read, message)
                answer, outcome = await loop.run_in_executor(self.writer, self.apply, message, event, sender)
                self.metrics.messages.labels(outcome.trigger, outcome.code).inc()
                log.info(
                    json.dumps({"trigger": outcome.trigger, "ack": outcome.code, "result": outcome.result})
                )
                writer.write(frame(answer))
                await writer.drain()
                self.busy.discard(task)
        except (ConnectionError, asyncio.IncompleteReadError):
            why = "connection lost"
        except asyncio.CancelledError:
            why = "listener stopping"
        finally:
            self.open_connections -= 1
            self.metrics.connections.dec()
            self.metrics.closed.labels(why).inc()
            log.info(json.dumps({"connection": "closed", "why": why}))
            writer.close()
            self.tasks.discard(task)
            self.busy.discard(task)
            if largest >= LARGE_BUFFER_BYTES:  # what a large frame held goes back to the system
                del buffer
                return_freed_memory()

    def _refusal(self, address: str) -> str | None:
        """Why a new connection is refused (None: it is admitted)."""
        if not self.policy.admits(address):
            return "sender not allowed"
        if self.open_connections >= self.policy.max_connections:
            return "too many connections"
        return None

    async def health(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A minimal HTTP/1.0 answer to GET /health/live, /health/ready and /metrics."""
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ")[1].decode("latin-1") if request.count(b" ") >= 2 else ""
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        if path == "/metrics" and not self._may_read_metrics(request):
            status, kind, body = "401 Unauthorized", "application/json", NEEDS_TOKEN
        elif path == "/metrics":
            status, kind, body = "200 OK", "text/plain; version=0.0.4", generate_latest(self.metrics.registry)
        elif path in ("/health/live", "/health/ready"):
            status, kind, body = "200 OK", "application/json", b'{"status":"ok"}'
        else:
            status, kind, body = "404 Not Found", "application/json", b'{"detail":"not found"}'
        head = f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    def _may_read_metrics(self, request: bytes) -> bool:
        """Whether the request carries `Authorization: Bearer <CAREOPS_METRICS_TOKEN>` (none is
        configured: nobody may read them)."""
        if self.metrics_token is None:
            return False
        for line in request.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"authorization":
                return hmac.compare_digest(value.strip(), f"Bearer {self.metrics_token}".encode())
        return False

    def close(self) -> None:
        """Finish the store thread's work, flush the prediction log, and release the store."""
        self.readers.shutdown(wait=True)
        self.writer.shutdown(wait=True)
        self.services.close()


async def listen(
    settings: Settings,
    host: str,
    port: int,
    health_port: int | None,
    score: bool = False,
    policy: ListenerPolicy | None = None,
) -> None:
    """Serve MLLP on host:port (and health on health_port) until SIGTERM or SIGINT."""
    policy = policy or ListenerPolicy()
    listener = await asyncio.to_thread(Listener, settings, score, policy)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(listener.handle, host, port, limit=MAX_MESSAGE_BYTES, ssl=policy.tls)
    servers = [server]
    if health_port is not None:
        servers.append(await asyncio.start_server(listener.health, host, health_port))
    bound = server.sockets[0].getsockname()[1]
    log.info(json.dumps({"listening": "mllp", "port": bound, "health_port": health_port, "score": score,
                         "tls": policy.tls is not None}))  # fmt: skip
    try:
        await stop.wait()
    finally:
        for s in servers:
            s.close()
        # A connection with a message in hand finishes it and sends its ACK; idle ones close now.
        listener.stopping = True
        for task in listener.tasks - listener.busy:
            task.cancel()
        if listener.tasks:
            await asyncio.wait(listener.tasks, timeout=30)
        listener.close()
        log.info(json.dumps({"stopped": "mllp", "report": listener.feed.report.lines()}))
