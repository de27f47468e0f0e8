"""Running the API: one uvicorn process, or N worker processes that share the port evenly.

uvicorn's own `--workers` binds one socket in the parent and hands it to every child. The children
then race to accept, and one of them often takes every connection of a client that keeps a small
pool of keep-alive connections open, as scheduling and billing systems do; and that inherited
socket skips TCP_NODELAY, so each small response waits for the client's delayed ACK (about 40 ms).
Here each worker binds its own SO_REUSEPORT socket, so that the kernel spreads connections across
workers, and TCP_NODELAY is set on every connection. A small supervisor here restarts a worker
that dies and stops them all on SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess

import uvicorn

from serving.request_log import LOG_CONFIG

log = logging.getLogger("careops.serve")
STARTUP_FAILURE = 3  # uvicorn's exit code when the app's start-up fails: restarting will not help


# uvicorn's access log stays off: it would repeat each request with its raw path.
OPTIONS = {"app": "serving.app:create_app", "factory": True, "log_config": LOG_CONFIG, "access_log": False}


def _tcp_socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY only on sockets that name it.
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def _check_free(host: str, port: int) -> None:
    """Fail now, in the parent, if something already holds the port (with or without SO_REUSEPORT)."""
    with _tcp_socket(host) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class _Worker:
    """One worker's entry point (pickled into the spawned process): bind its own socket, then serve."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config

    def __call__(self) -> None:
        self.config.configure_logging()  # a spawned process starts with none
        own = _tcp_socket(self.config.host)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own.bind((self.config.host, self.config.port))
        uvicorn.Server(self.config).run(sockets=[own])


def _supervise(config: uvicorn.Config, workers: int) -> int:
    """Run `workers` processes until SIGTERM or SIGINT; returns the exit code for the command."""
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())

    def start() -> BaseProcess:
        process = context.Process(target=_Worker(config), name="careops-worker")
        process.start()
        return process

    children = [start() for _ in range(workers)]
    log.info("started %d workers sharing port %d", workers, config.port)
    code = 0
    while not stop.wait(0.5):
        for index, child in enumerate(children):
            if child.is_alive():
                continue
            if child.exitcode == STARTUP_FAILURE:
                log.error("a worker could not start; stopping")
                code = STARTUP_FAILURE
                stop.set()
                break
            log.warning("worker %s exited with code %s; starting another", child.pid, child.exitcode)
            children[index] = start()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=30)
    return code


def serve(host: str, port: int, workers: int) -> int:
    """Serve the app on host:port with `workers` processes (1: in this process); the exit code."""
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _check_free(host, port)
        return _supervise(uvicorn.Config(**OPTIONS, host=host, port=port, workers=workers), workers)
    uvicorn.run(**OPTIONS, host=host, port=port, workers=workers)  # without SO_REUSEPORT: uvicorn's way
    return 0
