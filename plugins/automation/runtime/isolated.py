"""Run a function in a short-lived child process with CPU, memory and wall-clock limits.

Invariant: the calling process never runs the function. A small helper process (started once per
calling process, with the caller's `sys.path`, having imported the function's module and run its
`prepare_isolated()` if it has one) forks one child
per call; the child takes the caller's current environment, limits itself (RLIMIT_CPU, RLIMIT_AS above
its size at start, an alarm for wall time) and only then runs the function. The caller gets the result,
the function's exception (raised again in the caller), or a `TemplateError` naming the limit that
stopped the child; a child that outlives its wall time is gone (its alarm, then a kill by pidfd).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from automation.config import settings_env, template_cpu_seconds, template_memory_mb, template_wall_seconds
from automation.errors import AutomationError, DefinitionError, Issue, TemplateError

log = logging.getLogger(__name__)

#: children running at once per calling process (each may use the memory limit)
MAX_CONCURRENT = 4
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT)
_LOCK = threading.Lock()
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_mb: int
    wall_seconds: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(template_cpu_seconds(), template_memory_mb(), template_wall_seconds())


class _CpuExceeded(BaseException):
    """Raised in the child by SIGXCPU; a BaseException so that no `except Exception` swallows it."""


# -- the caller's side -----------------------------------------------------------------------------


class _Helper:
    """The forking helper process and the socket that hands it one socket per call."""

    def __init__(self, preload: str) -> None:
        ours, theirs = socket.socketpair()
        code = "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
        code += "from automation.runtime.isolated import _serve; _serve(int(sys.argv[2]), sys.argv[3])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(sys.path), str(theirs.fileno()), preload],
            pass_fds=[theirs.fileno()],
            env={**os.environ, **settings_env()},  # settings resolved here: the helper never imports Airflow
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.control = ours
        self.send_lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.poll() is None

    def new_child(self) -> Connection:
        ours, theirs = socket.socketpair()
        try:
            with self.send_lock:
                socket.send_fds(self.control, [b"c"], [theirs.fileno()])
        finally:
            theirs.close()
        return Connection(ours.detach())


_HELPER: _Helper | None = None


def _new_child(preload: str) -> Connection:
    global _HELPER
    with _LOCK:
        for attempt in (1, 2):
            if _HELPER is None or not _HELPER.alive():
                _HELPER = _Helper(preload)
            try:
                return _HELPER.new_child()
            except OSError:
                _HELPER.process.kill()
                _HELPER = None
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


def run_isolated(function: Callable[..., Any], *args: Any, env: dict[str, str] | None = None) -> Any:
    """`function(*args)` in a limited child (`Limits.from_settings()`); `function` and `args` are pickled,
    so `function` is a module-level function. `env` is added to the child's copy of `os.environ`."""
    limits = Limits.from_settings()
    with _SLOTS:
        conn = _new_child(function.__module__)
        pidfd, started = None, time.monotonic()
        try:
            if not conn.poll(_START_TIMEOUT):
                raise TemplateError(f"the isolated worker did not start within {_START_TIMEOUT:.0f} s; try again")
            pid = conn.recv()
            with contextlib.suppress(OSError, AttributeError):
                pidfd = os.pidfd_open(pid)  # the child waits for its work: this pid is not reused yet
            conn.send((function, args, {**os.environ, **settings_env(), **(env or {})}, limits))
            started = time.monotonic()
            if not conn.poll(limits.wall_seconds + 2):
                raise _stopped(limits, "time")
            kind, payload = conn.recv()
        except EOFError:
            took = time.monotonic() - started  # killed (by the kernel): CPU hard limit, alarm, or a crash
            what = "time" if took >= limits.wall_seconds else "cpu" if took >= limits.cpu_seconds else "cpu or memory"
            raise _stopped(limits, what) from None
        finally:
            conn.close()
            if pidfd is not None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                os.close(pidfd)
    if kind == "ok":
        return payload
    if kind == "limit":
        raise _stopped(limits, payload)
    if kind == "error":
        raise _rebuild(payload)
    error, text = payload
    log.error("isolated %s failed in its worker: %s", function.__qualname__, text)
    if error is not None:  # raised here as the function would have raised it in this process
        raise error
    raise TemplateError("the isolated worker failed unexpectedly; the server's log has the details")


def _stopped(limits: Limits, what: str) -> TemplateError:
    reasons = {
        "cpu": f"it used more than {limits.cpu_seconds} s of CPU time ([automation] template_cpu_seconds)",
        "memory": f"it needed more than {limits.memory_mb} MB of memory ([automation] template_memory_mb)",
        "time": f"it took longer than {limits.wall_seconds} s ([automation] template_wall_seconds)",
        "cpu or memory": f"it used more than {limits.cpu_seconds} s of CPU time or {limits.memory_mb} MB of memory "
        "([automation] template_cpu_seconds, [automation] template_memory_mb)",
    }
    return TemplateError(f"stopped: {reasons[what]}; simplify the templates (loops, repeated text)")


def _describe(exc: AutomationError) -> tuple[Any, ...]:
    if isinstance(exc, DefinitionError):
        return ("definition", [(i.path, i.message) for i in exc.issues], exc.source)
    return (type(exc).__module__, type(exc).__qualname__, str(exc))


def _rebuild(description: tuple[Any, ...]) -> AutomationError:
    if description[0] == "definition":
        return DefinitionError([Issue(path, message) for path, message in description[1]], description[2])
    module, name, message = description
    kind = getattr(importlib.import_module(module), name, AutomationError)
    if not (isinstance(kind, type) and issubclass(kind, AutomationError)):
        kind = AutomationError
    try:
        return kind(message)
    except TypeError:
        return AutomationError(message)


# -- the helper and its children -------------------------------------------------------------------


def _serve(control_fd: int, preload: str) -> None:
    """The helper: import `preload`, then fork a child for each socket received, until the caller goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in `make run` stops the caller, then us by EOF
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    try:  # the function's module, and what its `prepare_isolated()` loads: each child starts with it
        getattr(importlib.import_module(preload), "prepare_isolated", lambda: None)()
    except Exception:
        traceback.print_exc()
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 16, 4)
        except OSError:
            return
        if not message:
            return
        for fd in fds:
            if os.fork() == 0:
                code = 1
                try:
                    control.close()
                    _child(fd)
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(code)
            os.close(fd)


def _limit(limits: Limits) -> None:
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)

    def cpu_exceeded(signum: int, frame: Any) -> None:
        raise _CpuExceeded

    signal.signal(signal.SIGXCPU, cpu_exceeded)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    address_space = size + limits.memory_mb * 2**20
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        address_space = min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    signal.alarm(limits.wall_seconds)  # SIGALRM's default action ends the process, whatever it runs


def _child(fd: int) -> None:
    conn = Connection(fd)
    conn.send(os.getpid())
    function, args, env, limits = conn.recv()
    os.environ.clear()
    os.environ.update(env)
    _limit(limits)
    try:
        result: tuple[str, Any] = ("ok", function(*args))
    except _CpuExceeded:
        result = ("limit", "cpu")
    except MemoryError:
        result = ("limit", "memory")
    except AutomationError as exc:
        result = ("error", _describe(exc))
    except Exception as exc:
        result = ("crash", (_picklable(exc), traceback.format_exc()))
    except BaseException:
        result = ("crash", (None, traceback.format_exc()))
    try:
        conn.send(result)
    except _CpuExceeded:
        conn.send(("limit", "cpu"))
    except MemoryError:
        conn.send(("limit", "memory"))
    except Exception:
        conn.send(("crash", (None, traceback.format_exc())))


def _picklable(exc: Exception) -> Exception | None:
    """`exc` if it survives pickling unchanged in kind and message, else None."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    return copy if type(copy) is type(exc) and str(copy) == str(exc) else None
