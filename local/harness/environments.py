"""Lambda execution environments side by side: one process each, invoked at the same moment.

CloudFormation invokes the provider once per resource, asynchronously, and Lambda runs
concurrent invocations in separate execution environments: separate processes, each with
its own copy of the handler module and its globals. This plays that: every environment is a
Python process that imports the handler of one function (``function``: the session
provider's by default) from template.yaml (as the runtime does) and then
handles the events it is given, warm, one at a time, starting each at an agreed moment so
that several environments really act at once.

The environments inherit this process's environment (AWS_ENDPOINT_URL_EC2 of the embedded EC2,
SSL_CERT_FILE of the response receiver) plus ``env``. Their log lines go to ``logs``.

Example::

    with LambdaEnvironments(3) as envs:
        envs.invoke_together([event_a, event_b, event_c])   # one event per environment
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from local.harness.lambda_loader import FUNCTION, ROOT

#: The environment's main loop: protocol lines on the original stdout, logs elsewhere.
_WORKER = """
import json, os, sys, time
protocol = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # the handler's log lines (stdout in Lambda) go to the log file
from local.harness.lambda_loader import LambdaContext, load_handler
handler = load_handler(function=sys.argv[1])
protocol.write("ready\\n")
for line in sys.stdin:
    job = json.loads(line)
    time.sleep(max(job["at"] - time.time(), 0.0))
    handler(job["event"], LambdaContext(timeout_s=job["timeout_s"]))
    protocol.write("done\\n")
"""


class EnvironmentFailed(RuntimeError):
    """An environment died, or did not finish in time."""


class LambdaEnvironments:
    """``count`` warm Lambda environments; see the module doc."""

    def __init__(
        self, count: int, env: Mapping[str, str] | None = None, function: str = FUNCTION
    ) -> None:
        self.count = count
        self.function = function
        self.env = {**os.environ, **(env or {})}
        self.logs = Path(tempfile.mkdtemp(prefix="lambda-envs-"))
        self._procs: list[subprocess.Popen[str]] = []
        self._log_files: list[IO[str]] = []

    def start(self) -> LambdaEnvironments:
        """Start every environment and wait until each has imported the handler."""
        for n in range(self.count):
            log = (self.logs / f"env-{n}.log").open("w")
            self._log_files.append(log)
            self._procs.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and script
                    [sys.executable, "-c", _WORKER, self.function],
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
        self._await("ready", timeout=60.0)
        return self

    def invoke_together(
        self, events: Sequence[Mapping[str, Any]], timeout_s: float = 60.0, lead_s: float = 0.3
    ) -> None:
        """Give the i-th event to the i-th environment; all start ``lead_s`` from now."""
        assert len(events) <= self.count, "one event per environment"
        at = time.time() + lead_s
        busy = self._procs[: len(events)]
        for proc, event in zip(busy, events, strict=True):
            assert proc.stdin is not None
            job = {"event": event, "at": at, "timeout_s": timeout_s}
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
        self._await("done", timeout=timeout_s + 15.0, procs=busy)

    def log_text(self) -> str:
        """Everything the environments logged so far."""
        for log in self._log_files:
            log.flush()
        return "".join(p.read_text() for p in sorted(self.logs.glob("env-*.log")))

    def _await(
        self, word: str, timeout: float, procs: Sequence[subprocess.Popen[str]] | None = None
    ) -> None:
        pending = list(procs if procs is not None else self._procs)
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for proc in pending:
                assert proc.stdout is not None
                selector.register(proc.stdout, selectors.EVENT_READ, proc)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EnvironmentFailed(f"{len(pending)} environment(s) did not say {word}")
                for key, _ in selector.select(timeout=left):
                    proc = key.data
                    line = proc.stdout.readline()
                    if not line:
                        raise EnvironmentFailed(f"an environment exited (logs in {self.logs})")
                    if line.strip() == word:
                        selector.unregister(proc.stdout)
                        pending.remove(proc)

    def stop(self) -> None:
        """End every environment."""
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stdout is not None:
                proc.stdout.close()
        for log in self._log_files:
            log.close()

    def __enter__(self) -> LambdaEnvironments:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
