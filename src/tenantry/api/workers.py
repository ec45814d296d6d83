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

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

__all__ = ["WorkerOptions", "reuse_port_supported", "run_workers"]

log = logging.getLogger("tenantry.serve")

APP = "tenantry.api.app:create_app"
_STOP_SECONDS = 30.0  # uvicorn's graceful shutdown, then the worker is killed
_RESTART_PAUSE = 1.0  # between replacing workers that die (a crash loop stays slow)


class WorkerOptions:
    """What every worker needs to serve (picklable: workers are spawned)."""

    def __init__(self, host: str, port: int, log_level: str) -> None:
        self.host, self.port, self.log_level = host, port, log_level


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _exit_with_parent(parent: int) -> None:
    """A worker whose supervisor is gone (killed outright) stops, as uvicorn's workers do."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(options: WorkerOptions, parent: int) -> None:
    import uvicorn

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    config = uvicorn.Config(
        APP,
        factory=True,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        access_log=False,  # the app logs one JSON line per request itself
        proxy_headers=True,
    )
    uvicorn.Server(config).run(sockets=[_listen(options.host, options.port)])


def run_workers(options: WorkerOptions, workers: int) -> None:
    """Run `workers` worker processes until SIGINT or SIGTERM; replace any that dies."""
    # The port is checked here, once: a worker failing to bind would only be restarted.
    _listen(options.host, options.port).close()
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(options, os.getpid()), daemon=False)
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    try:
        while not stop.wait(0.5):
            for i, process in enumerate(processes):
                if not process.is_alive() and not stop.is_set():
                    log.warning(
                        "worker %s exited with %s; starting another", process.pid, process.exitcode
                    )
                    process.join()
                    time.sleep(_RESTART_PAUSE)
                    processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + _STOP_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
