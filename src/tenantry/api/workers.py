"""Several API worker processes, each accepting on a listening socket of its own.

uvicorn's `--workers` shares one listening socket between the workers. Each worker's event
loop, when woken, accepts every connection that is waiting, so a burst of new connections
(a client pool opening, a load balancer reconnecting) mostly lands on whichever worker woke
first: with 32 keep-alive connections opened at once, two workers got 27 and 5 of them, or
23 and 9. Those connections stay where they landed, and one worker saturates while the other
idles.

Here every worker binds the same address with `SO_REUSEPORT`, and the kernel assigns each new
connection to one of the sockets by a hash of its addresses: the connections spread evenly
regardless of timing. The supervisor starts the workers, replaces one that dies, and on
SIGINT or SIGTERM asks them all to finish their requests and stop (uvicorn's graceful
shutdown). Where the platform has no `SO_REUSEPORT`, `serve` falls back to uvicorn's shared
socket (`reuse_port_supported`).

This module only runs processes; the application is `tenantry.api.app:create_app`.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

__all__ = [
    "WorkerOptions",
    "WorkersFailedError",
    "check_port",
    "reuse_port_supported",
    "run_workers",
    "tune_gc",
]

log = logging.getLogger("tenantry.serve")

APP = "tenantry.api.app:create_app"
_STOP_SECONDS = 30.0  # uvicorn's graceful shutdown, then the worker is killed
_RESTART_PAUSE = 1.0  # between replacing workers that die (a crash loop stays slow)
_EARLY_EXIT_SECONDS = 15.0  # a worker that ends this soon after its start failed to start
_EARLY_EXITS = 3  # in a row: the workers cannot start (no database, bad settings); give up


class WorkersFailedError(RuntimeError):
    """The API workers keep exiting right after they start."""


@dataclass(frozen=True)
class WorkerOptions:
    """What every worker needs to serve (picklable: workers are spawned)."""

    host: str
    port: int
    log_level: str
    gc_threshold: int = 0


def tune_gc(threshold: int) -> None:
    """Collect the youngest garbage generation every `threshold` allocations (0: as Python does).

    A request allocates a few thousand objects (ORM states, pydantic models, psycopg rows), so
    at Python's default of 700 a worker ran the collector several times per request, 6 to 10 %
    of its CPU time. The older generations keep Python's ratios; memory held by unreachable
    cycles stays bounded by the threshold.
    """
    if threshold > 0:
        _gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(threshold, gen1, gen2)


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def check_port(host: str, port: int) -> None:
    """Raise OSError if any socket holds the address, one of another `SO_REUSEPORT` group too."""
    _bind(host, port, reuse_port=False).close()


def _exit_with_parent(parent: int) -> None:
    """A worker whose supervisor is gone (killed outright) stops, as uvicorn's workers do."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(options: WorkerOptions, parent: int) -> None:
    import uvicorn

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    tune_gc(options.gc_threshold)
    config = uvicorn.Config(
        APP,
        factory=True,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        access_log=False,  # the app logs one JSON line per request itself
        proxy_headers=True,
        timeout_graceful_shutdown=int(_STOP_SECONDS) - 5,  # ends even if a request hangs
    )
    # Bound, not listening: the event loop listens once the app has started, so the kernel
    # sends this worker no connections while it starts (or if it fails to).
    uvicorn.Server(config).run(sockets=[_bind(options.host, options.port, reuse_port=True)])


def run_workers(options: WorkerOptions, workers: int) -> None:
    """Run `workers` worker processes until SIGINT or SIGTERM; replace any that dies.

    `WorkersFailedError` when workers keep ending right after their start.
    """
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(options, os.getpid()), daemon=False)
        process.start()
        return process, time.monotonic()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: list[tuple[BaseProcess, float]] = []
    early_exits = 0
    try:
        processes.extend(start() for _ in range(workers))
        while not stop.wait(0.5):
            for i, (process, started) in enumerate(processes):
                if process.is_alive() or stop.is_set():
                    continue
                process.join()
                early = time.monotonic() - started < _EARLY_EXIT_SECONDS
                early_exits = early_exits + 1 if early else 0
                if early_exits >= _EARLY_EXITS:
                    raise WorkersFailedError(
                        f"the API workers exit right after starting (last exit code "
                        f"{process.exitcode}); check the database and the settings"
                    )
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                if stop.wait(_RESTART_PAUSE):
                    break
                processes[i] = start()
    finally:
        for process, _started in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + _STOP_SECONDS
        for process, _started in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
