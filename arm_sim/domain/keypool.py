"""RSA keys generated ahead of need, off the request path.

An RSA-2048 key costs ~64 ms to generate (reference/performance.md): inline, every identity create
would pay it. A worker process keeps a small in-memory pool filled; keys are random and unused,
so a pool lost with its process costs nothing.

The worker exits by itself when the process that started it is gone: a server killed with SIGKILL cannot shut
its pool down, and an orphaned worker would keep its memory (and, through the pipe it shares, the
multiprocessing resource tracker) forever.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

from cryptography.hazmat.primitives.asymmetric import rsa

from arm_sim.domain.certs import load_private_pem, new_rsa_key, private_pem

log = logging.getLogger(__name__)
TARGET = 24
BATCH = 8


def _generate(count: int) -> list[str]:
    return [private_pem(new_rsa_key()) for _ in range(count)]


def watch_parent(parent: int, on_gone: Callable[[], None], interval: float = 0.2) -> threading.Thread:
    """Call `on_gone` (on a daemon thread) once this process's parent is no longer `parent`.

    An orphan is re-parented (to init or a subreaper), so its parent id changes when the parent dies, whatever
    killed it. Polling costs one system call per interval and works wherever a pipe's end-of-file would not
    (the parent's descendants may hold copies of any pipe it makes)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        on_gone()

    thread = threading.Thread(target=watch, name="arm-sim-parent-watch", daemon=True)
    thread.start()
    return thread


def _exit_with_parent(parent: int) -> None:
    """The pool worker's initializer: exit at once when the server is gone (its keys are worth nothing)."""
    watch_parent(parent, lambda: os._exit(0))


class KeyPool:
    def __init__(self, target: int = TARGET) -> None:
        self.target = target
        self._keys: list[str] = []
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._pending: Future[list[str]] | None = None

    def start(self) -> None:
        """Begin refilling in a worker process (servers call this; one-off commands need not)."""
        if self._executor is None:
            # spawn, not fork: the server process has an event loop and threads running
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_exit_with_parent, initargs=(os.getpid(),))
            self._refill()

    def stop(self) -> None:
        # wait: the executor's manager thread closes its wake-up pipe as it ends, and Python 3.11's exit hook
        # writes to that pipe unlocked; an exit racing the close printed a traceback (EBADF). At most one batch
        # (~0.5 s) is still being made; queued ones are cancelled.
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _refill(self) -> None:
        with self._lock:
            if self._executor is None or self._pending is not None or len(self._keys) >= self.target:
                return
            try:
                self._pending = self._executor.submit(_generate, BATCH)
            except RuntimeError:  # shutting down: take() falls back to generating inline
                return
            self._pending.add_done_callback(self._collect)

    def _collect(self, fut: Future[list[str]]) -> None:
        with self._lock:
            self._pending = None
            if fut.cancelled():
                return
            try:
                self._keys.extend(fut.result())
            except Exception:  # a broken worker must not break identity creation: take() falls back
                log.exception("key pool worker failed")
                return
        self._refill()

    def take(self) -> rsa.RSAPrivateKey:
        with self._lock:
            pem = self._keys.pop() if self._keys else None
        self._refill()
        return load_private_pem(pem) if pem else new_rsa_key()

    def size(self) -> int:
        with self._lock:
            return len(self._keys)


POOL = KeyPool()
