"""SIGTERM in a ``multiprocessing`` fork child: write its spans, then die of the signal.

``Pool.terminate()`` (every ``with Pool() as p`` ends there) and ``Process.terminate()`` send
SIGTERM, whose default action kills the child before any finalizer runs. In such a child,
and only while SIGTERM still has its default action, ``install`` catches it: a bounded flush,
then the default action again and the same signal, so the child dies as it would have (the
parent sees the same exit status). An application's handler or SIG_IGN, inherited or set
later, is left alone.

The flush runs on a watch thread, not in the handler. A handler runs on the main thread at
whatever point the signal caught it, perhaps inside a lock the flush needs (an Event's, as
the export worker wakes): flushing there would wait on itself. And a main thread about to
block (a pool worker going back to ``inqueue.get()``: its semaphore wait re-blocks after the
C-level handler ran) can sleep on with the signal noted but never handled. So the C-level
handler's wakeup-fd byte tells the watch thread; it flushes while the main thread carries on,
then interrupts the main thread with SIGTERM until the handler, now told to, dies of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from noveum_trace._diagnostics.guard import internal_error

# What a terminated child spends writing its spans before it dies. Pool workers die in
# parallel, so a pool's exit waits at most this much longer, and usually a few milliseconds.
FLUSH_TIMEOUT = 0.25
# How often the watch interrupts a main thread that has not died yet.
NUDGE_INTERVAL = 0.05

_flush: Callable[[float], object] | None = None
_pipe: tuple[int, int] | None = None  # the wakeup pipe: read end, write end
_terminated = False  # a SIGTERM came
_dying = False  # the flush is over: the handler dies of the signal


def install(flush: Callable[[float], object]) -> None:
    """Catch SIGTERM in this multiprocessing child to run ``flush(FLUSH_TIMEOUT)`` before
    dying of it. Call from the child's main thread. Does nothing when SIGTERM is not at its
    default action, or when the application has a wakeup fd of its own (without the watch,
    the signal could be lost, so there is no handler either)."""
    global _flush, _pipe
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        _pipe = read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            forget()
            return
        _flush = flush
        signal.signal(signal.SIGTERM, _on_sigterm)
        threading.Thread(
            target=_watch,
            args=(read_fd, threading.get_ident()),
            name="noveum-trace-sigterm",
            daemon=True,
        ).start()
    except (ValueError, OSError, RuntimeError) as exc:  # not the main thread; no pipe
        internal_error("sigterm", exc)
        forget()


def forget() -> None:
    """In any fork child: a child of a child we set up starts with the default again (a plain
    ``os.fork()`` child keeps its own path; multiprocessing calls ``install`` anew)."""
    global _flush, _pipe, _terminated, _dying
    pipe, _pipe, _flush, _terminated, _dying = _pipe, None, None, False, False
    if pipe is None:
        return
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        previous = signal.set_wakeup_fd(-1)
        if previous != pipe[1]:  # not ours after all: the application's stays
            signal.set_wakeup_fd(previous)
    except (ValueError, OSError) as exc:
        internal_error("sigterm", exc)
    for fd in pipe:
        with contextlib.suppress(OSError):
            os.close(fd)


def die_if_terminated() -> None:
    """At the end of the child's exit flush: a child sent SIGTERM while it was exiting on its
    own still dies of it, as it would have without us."""
    if _terminated and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """The main thread's part: note the signal and tell the watch (the wakeup fd may no
    longer be ours: asyncio and trio replace it); once the watch has flushed, die of it."""
    global _terminated
    _terminated = True
    if _dying:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    pipe = _pipe
    if pipe is not None:
        with contextlib.suppress(OSError):
            os.write(pipe[1], bytes([signum]))


def _watch(read_fd: int, main: int) -> None:
    global _terminated, _dying
    try:
        while True:
            data = os.read(read_fd, 64)  # a byte per signal that a Python handler caught
            if not data:
                return
            # An application that set its own SIGTERM handler since decides for itself.
            if signal.SIGTERM in data and signal.getsignal(signal.SIGTERM) is _on_sigterm:
                break
        _terminated = True
        flush = _flush
        if flush is not None:
            _within(FLUSH_TIMEOUT, flush)
        _dying = True
        if _die_now():
            return
        # Until the handler runs: a nudge can be lost as the first signal was.
        while signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.pthread_kill(main, signal.SIGTERM)
            time.sleep(NUDGE_INTERVAL)
    except (OSError, RuntimeError) as exc:  # the pipe closed under us; no flush thread
        internal_error("sigterm", exc)


def _die_now() -> bool:
    """Die of SIGTERM from the watch thread, whatever the main thread is doing (a long C call
    runs no Python handler until it returns). Python lets only the main thread set a signal
    disposition, so the default action is restored through libc; the kernel then ends the
    process as plain SIGTERM would have (same exit status). False where libc is not at hand:
    the caller falls back to nudging the main thread's handler."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
        libc.signal.restype = ctypes.c_void_p
        if libc.signal(signal.SIGTERM, 0) == ctypes.c_void_p(-1).value:  # SIG_DFL; SIG_ERR
            return False
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(NUDGE_INTERVAL)  # delivery is immediate; never reached in practice
    except (OSError, AttributeError, ValueError):
        return False
    return True


def _within(budget: float, work: Callable[[float], object]) -> None:
    """``work(budget)``, waited for at most ``budget``: an exporter or a hook that does not
    keep to its timeout cannot keep the child alive."""

    def run() -> None:
        try:
            work(budget)
        except Exception as exc:
            internal_error("sigterm flush", exc)

    worker = threading.Thread(target=run, name="noveum-trace-sigterm-flush", daemon=True)
    worker.start()
    worker.join(budget)
