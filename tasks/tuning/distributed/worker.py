"""The worker's side of a distributed search: train what the chief hands out.

A worker runs Keras Tuner's own trial loop against the chief's oracle (Keras
Tuner proxies it over gRPC once `tuner_environment` names the chief), and
while it trains a trial it pings the chief every `HEARTBEAT_SECONDS`, so the
chief can tell a slow trial from a dead worker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import ClassVar

import grpc

from tasks.tuning.compat import grpc_service
from tasks.tuning.distributed.role import HEARTBEAT_SECONDS, DistributedSearch
from tasks.tuning.progress import SearchProgress

logger = logging.getLogger(__name__)


@dataclass
class WorkerPart:
    """Trains the trials the chief hands out, with a heartbeat while it trains.

    Args:
        role: this worker's part (`tasks.tuning.distributed.role.worker_role`).
    """

    role: DistributedSearch
    trials_run: list[str] = field(default_factory=list)
    heartbeat: Heartbeat | None = None
    # A worker sees only its own trials; the chief prunes the checkpoints.
    prunes_checkpoints: ClassVar[bool] = False

    def search(self, tuner, run_trials) -> None:
        logger.info(
            "worker %s: asking the chief at %s for trials",
            tuner.tuner_id,
            self.role.address,
        )
        run_trials()
        logger.info(
            "worker %s ran %d trial(s) (%s); the chief says the search is done",
            tuner.tuner_id,
            len(self.trials_run),
            ", ".join(self.trials_run) or "none",
        )

    def on_trial_begin(self, tuner, trial) -> None:
        # Keras Tuner's proxy to the chief's oracle holds the gRPC stub.
        self.heartbeat = Heartbeat(tuner.oracle.stub, trial.trial_id)
        self.heartbeat.start()

    def on_trial_end(self, tuner, trial) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.trials_run.append(trial.trial_id)

    def progress(self, tuner, event: str, trial, epoch: int) -> SearchProgress:
        # Only the chief knows every trial; a worker reports its own.
        return SearchProgress(
            event=event,
            trial=trial.trial_id,
            trials_done=len(self.trials_run),
            max_trials=None,
            epoch=epoch,
            epochs=tuner.settings.epochs,
            family=trial.hyperparameters.values.get("family"),
        )


class Heartbeat(threading.Thread):
    """Tells the chief every few seconds that this worker's trial is alive."""

    def __init__(self, stub, trial_id: str):
        super().__init__(name=f"heartbeat-{trial_id}", daemon=True)
        self.stub = stub
        self.trial_id = trial_id
        self._stopped = threading.Event()

    def run(self) -> None:
        request = grpc_service().GetTrialRequest(trial_id=self.trial_id)
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.stub.GetTrial(request, timeout=HEARTBEAT_SECONDS)
            except grpc.RpcError as exc:
                # A missed beat is harmless; only a long silence ends the trial,
                # and the trial's own report fails loudly if the chief is gone.
                logger.debug("heartbeat for trial %s missed: %s", self.trial_id, exc)

    def stop(self) -> None:
        self._stopped.set()
