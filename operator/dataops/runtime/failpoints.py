"""Fault injection for the fault tests: ``DATAOPS_FAILPOINT=<name>:<batch id>`` kills the process
(SIGKILL, no clean-up, like an OOM kill or a node loss) when a streaming micro-batch reaches the
named point. Unset, as in every real run, it does nothing.

Points: ``after-dead-letters`` (the batch's dead-letter records are sent, not yet marked done, its
sinks not written),
``after-sinks`` (the sinks committed, the checkpoint's commit not yet written).
"""

from __future__ import annotations

import os
import signal

ENV = "DATAOPS_FAILPOINT"


def failpoint(name: str, batch_id: int) -> None:
    if os.environ.get(ENV) == f"{name}:{batch_id}":
        os.kill(os.getpid(), signal.SIGKILL)
