"""Parallel training runs compared in one table: state and logic, no widgets.

:class:`RunComparisonModel` trains several backbones at once, each in a shuffle of its
own that shares the test frames of the dashboard's shuffle, as Dask tasks with their
own threads (:func:`posekit.engine.distributed.train_in_parallel`), in a background
thread so that the kernel stays responsive. Each run's row (backbone, shuffle,
iterations, test error, wall time) joins :attr:`RunComparisonModel.rows` as soon as it
finishes; :class:`posekit.widgets.run_comparison.RunComparison` shows them as a table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import traitlets

from .app import error_message

if TYPE_CHECKING:
    from ..engine.project import Project

__all__ = ["RunComparisonModel", "next_free_shuffles"]

logger = logging.getLogger("posekit.widgets.run_comparison")


def next_free_shuffles(project: Project, n: int, *, after: int = 1) -> list[int]:
    """Return ``n`` shuffle numbers above ``after`` that have no model folder yet.

    Parameters
    ----------
    project
        The project.
    n
        How many.
    after
        Start above this shuffle.

    Returns
    -------
    list of int
    """
    from ..engine.model_folder import ModelFolder

    found, k = [], int(after)
    while len(found) < n:
        k += 1
        if not ModelFolder.of(project, k).snapshots():
            found.append(k)
    return found


class RunComparisonModel(traitlets.HasTraits):
    """Train several backbones in parallel and collect one comparison table.

    Parameters
    ----------
    project
        The project.
    reference_shuffle
        The runs use this shuffle's test frames, so that their errors compare.
    train_fn
        ``train_in_parallel`` (default
        :func:`posekit.engine.distributed.train_in_parallel`).

    Attributes
    ----------
    backbones
        The backbones to compare (one run each).
    iterations, minutes
        Budget of every run: iterations, and (if > 0) a time limit.
    client
        Where the runs train: ``"local"`` (a Dask cluster of this machine's cores,
        shared out among the runs) or a scheduler address.
    rows
        One dict per finished run (``backbone``, ``shuffle``, ``iterations``,
        ``test_error_px``, ``wall_s``, ``threads``, ``snapshot``).
    """

    backbones = traitlets.List(traitlets.Unicode())
    iterations = traitlets.Int(1000)
    minutes = traitlets.Float(0.0)
    client = traitlets.Unicode("local")
    state = traitlets.Enum(["idle", "running", "done", "error"], default_value="idle")
    message = traitlets.Unicode("")
    error = traitlets.Unicode("")
    rows = traitlets.List()

    def __init__(
        self,
        project: Project,
        *,
        reference_shuffle: int = 1,
        train_fn: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.project = project
        self.reference_shuffle = int(reference_shuffle)
        self._train_fn = train_fn
        self._thread: threading.Thread | None = None

    def compare(
        self, backbones: Sequence[str] | None = None, *, wait: bool = False
    ) -> None:
        """Train one run per backbone, in parallel, in a background thread.

        Raises
        ------
        RuntimeError
            A comparison is already running.
        ValueError
            Fewer than one backbone, or a bad budget.
        """
        if self.state == "running":
            raise RuntimeError("A comparison is already running; wait for it to end.")
        chosen = list(backbones if backbones is not None else self.backbones)
        if not chosen:
            raise ValueError("Choose at least one backbone to compare.")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1. Received: {self.iterations}")
        self.rows = []
        self.error = ""
        self.state = "running"
        shuffles = next_free_shuffles(self.project, len(chosen))
        self.message = (
            f"training {len(chosen)} run(s) in parallel (shuffles "
            f"{', '.join(map(str, shuffles))})…"
        )
        self._thread = threading.Thread(
            target=self._run,
            args=(list(zip(shuffles, chosen, strict=True)),),
            name="posekit-run-comparison",
            daemon=True,
        )
        self._thread.start()
        if wait:
            self._thread.join()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the comparison; ``True`` if it ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state != "running"

    def _run(self, runs: list[tuple[int, str]]) -> None:
        from ..engine.distributed import TrainRun

        train = self._train_fn
        if train is None:
            from ..engine.distributed import train_in_parallel as train
        budget: dict[str, Any] = {"max_iterations": int(self.iterations)}
        if self.minutes > 0:
            budget["time_budget_s"] = 60.0 * float(self.minutes)
        try:
            train(
                self.project,
                [TrainRun(shuffle, backbone) for shuffle, backbone in runs],
                client=self.client or "local",
                same_split_as=self.reference_shuffle,
                on_result=self._add_row,
                **budget,
            )
        except BaseException as err:  # noqa: BLE001 - shown in the widget, logged
            logger.exception("run comparison failed: %s", err, exc_info=err)
            self.error = error_message(err)
            self.message = f"error: {self.error}"
            self.state = "error"
            return
        self.message = f"{len(self.rows)} run(s) compared"
        self.state = "done"

    def _add_row(self, row: dict) -> None:
        rows = [*self.rows, dict(row)]
        self.rows = sorted(
            rows,
            key=lambda r: (r.get("test_error_px") is None, r.get("test_error_px") or 0),
        )
        self.message = f"{len(self.rows)} run(s) finished…"
