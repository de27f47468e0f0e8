"""Running the API: one uvicorn process, or N worker processes that share connections evenly.

uvicorn's own `--workers` binds one socket in the parent and lets every child accept from it; one
child often takes every connection of a client that opens a small pool of keep-alive connections at
once, as scheduling and billing systems do. SO_REUSEPORT sockets spread connections by a hash of
their addresses, which for eight connections leaves one worker with six as often as not; that
worker's queue sets the tail latency. So here the parent accepts each connection and passes it
(SCM_RIGHTS over a Unix socket pair) to the workers in turn, and each serves it with uvicorn's own
protocol. Connections are long-lived, so the parent's hop is paid once per connection, never per
request. TCP_NODELAY is set on every connection: without it each small
response would wait for the client's delayed ACK (about 40 ms). The parent also restarts a worker
that dies, and stops them all on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import select
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from serving.request_log import LOG_CONFIG

log = logging.getLogger("careops.serve")
STARTUP_FAILURE = 3  # uvicorn's exit code when the app's start-up fails: restarting will not help
MAX_FDS_PER_MESSAGE = 1  # the parent passes one connection per message
READY = b"r"  # what a worker sends the parent once its models are loaded


# uvicorn's access log stays off: it would repeat each request with its raw path.
OPTIONS = {"app": "serving.app:create_app", "factory": True, "log_config": LOG_CONFIG, "access_log": False}


def _tcp_socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)


class _Server(uvicorn.Server):
    """uvicorn without a listening socket of its own: it serves the connections the parent passes."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._handovers: set[asyncio.Task] = set()  # held until done: the loop keeps only weak ones

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        create = functools.partial(
            self.config.http_protocol_class,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, create)
        self.channel.send(READY)  # the models are loaded: the parent may pass connections now

    def _receive(self, loop: asyncio.AbstractEventLoop, create: Any) -> None:
        try:
            message, fds, _flags, _address = socket.recv_fds(self.channel, 1, MAX_FDS_PER_MESSAGE)
        except BlockingIOError:
            return
        if not message:  # the parent is gone: nobody will pass connections any more
            loop.remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            connection = socket.socket(fileno=fd)
            connection.setblocking(False)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(loop.connect_accepted_socket(create, connection))
            self._handovers.add(task)
            task.add_done_callback(self._handed_over)

    def _handed_over(self, task: asyncio.Task) -> None:
        self._handovers.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the client left first
            log.info("a passed connection closed before it was served: %s", type(task.exception()).__name__)


class _Worker:
    """One worker's entry point (pickled into the spawned process): serve what the parent passes."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        self.config, self.channel = config, channel

    def __call__(self) -> None:
        self.config.configure_logging()  # a spawned process starts with none
        _Server(self.config, self.channel).run()


class _Dispatcher:
    """The parent's side: accepts connections and passes them to the ready workers in turn.

    In turn rather than to the worker with the fewest open connections: a worker learns that a
    client closed only when it next reads, so right after a client drops its pool and opens a new
    one the counts are stale, and the new pool would pile onto one worker. A worker counts as ready
    once it says its models are loaded, so that a replacement for a worker that died does not take
    connections while it loads for seconds; only when no worker is ready yet does one that is
    still starting get them (they wait in its channel until it is).
    """

    def __init__(self, listener: socket.socket, workers: int) -> None:
        self.listener = listener
        self.channels: list[socket.socket | None] = [None] * workers
        self.ready = [False] * workers
        self.lock = threading.Lock()
        self.next = 0

    def attach(self, index: int) -> socket.socket:
        """A fresh channel for worker `index` (started or restarted); returns the worker's end."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with self.lock:
            old, self.channels[index], self.ready[index] = self.channels[index], ours, False
        if old is not None:
            old.close()
        return theirs

    def wait_for_workers(self, seconds: float) -> None:
        """Mark the workers that have said they are ready, waiting up to `seconds` for one to."""
        with self.lock:
            waiting = {c: i for i, c in enumerate(self.channels) if c is not None and not self.ready[i]}
        if not waiting:
            return
        readable, _, _ = select.select(list(waiting), [], [], seconds)
        with self.lock:
            for channel in readable:
                index = waiting[channel]
                # A worker gone before it was ready reads as not ready; the supervisor restarts it.
                if self.channels[index] is channel:
                    with contextlib.suppress(OSError):
                        self.ready[index] = channel.recv(1, socket.MSG_DONTWAIT) == READY

    def run(self) -> None:
        """Accept until the listener is shut down."""
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            with connection:
                self._pass(connection)

    def _pass(self, connection: socket.socket) -> None:
        with self.lock:
            count = len(self.channels)
            order = [(self.next + step) % count for step in range(count)]
            ready = [i for i in order if self.ready[i]]
            for index in ready or order:
                channel = self.channels[index]
                if channel is None:
                    continue
                try:
                    socket.send_fds(channel, [b"c"], [connection.fileno()])
                except OSError:
                    self.ready[index] = False  # that worker is gone; the supervisor restarts it
                    continue
                self.next = (index + 1) % count
                return
        log.warning("no worker could take a connection; it was closed")


def _supervise(config: uvicorn.Config, workers: int) -> int:
    """Run `workers` processes until SIGTERM or SIGINT; returns the exit code for the command."""
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    listener = _tcp_socket(config.host)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((config.host, config.port))
    listener.listen(config.backlog)
    dispatcher = _Dispatcher(listener, workers)

    def start(index: int) -> BaseProcess:
        worker = _Worker(config, dispatcher.attach(index))
        process = context.Process(target=worker, name="careops-worker")
        process.start()
        worker.channel.close()  # the child holds its own copy
        return process

    children = [start(index) for index in range(workers)]
    accepting = threading.Thread(target=dispatcher.run, name="careops-dispatch", daemon=True)
    accepting.start()
    log.info("started %d workers sharing port %d", workers, config.port)
    code = 0
    while not stop.is_set():
        dispatcher.wait_for_workers(0.1)
        if stop.wait(0.1):
            break
        for index, child in enumerate(children):
            if child.is_alive():
                continue
            if child.exitcode == STARTUP_FAILURE:
                log.error("a worker could not start; stopping")
                code = STARTUP_FAILURE
                stop.set()
                break
            log.warning("worker %s exited with code %s; starting another", child.pid, child.exitcode)
            children[index] = start(index)
    listener.shutdown(socket.SHUT_RDWR)  # wakes the dispatcher's accept (close alone would not)
    listener.close()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=30)
    return code


def serve(host: str, port: int, workers: int) -> int:
    """Serve the app on host:port with `workers` processes (1: in this process); the exit code."""
    if workers > 1 and hasattr(socket, "send_fds"):
        return _supervise(uvicorn.Config(**OPTIONS, host=host, port=port, workers=workers), workers)
    uvicorn.run(**OPTIONS, host=host, port=port, workers=workers)  # without fd passing: uvicorn's way
    return 0
