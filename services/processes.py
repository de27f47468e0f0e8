"""The fork server careops starts its helper processes from (the prediction log's writer, the readers
of large uploads): started fresh rather than forked from a process that runs threads, and holding
the helpers' imports, so that a helper starts in milliseconds."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext

PRELOADED = ["services.monitoring.log_writer", "services.upload_reader"]


def fork_server() -> BaseContext:
    """The fork-server context, with every helper's imports preloaded (the server starts on first use)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED)
    return context
