"""Convert a snapshot for LiteRT in a short-lived process of its own.

TensorFlow takes ~650 MB that a process never gives back once it is imported. An
analysis on LiteRT (``ai_edge_litert``) needs TensorFlow only to convert a snapshot
(:meth:`ModelFolder.tflite_model <posekit.engine.model_folder.ModelFolder.tflite_model>`:
the float32 model and, for ``precision="auto"`` or ``"int8"``, the int8 model and its
comparison with float, once per snapshot, frame size and batch size). The Analyze app
does that conversion here, in a child process (``python -m
posekit.engine.tflite_convert``) that ends when it is done, and then analyses in its
own kernel, which finds the converted files and never imports TensorFlow
(:func:`posekit.engine.api.analyze_videos`'s ``prepare_tflite``). The Python API and
``posekit analyze`` convert in their own process, as before.

Examples
--------
>>> from posekit.engine.model_folder import ModelFolder
>>> conversion_needed(ModelFolder("/nowhere/train"), "/nowhere/train/snapshot-5.keras",
...                   (240, 320), 8, "float32")
True
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from copy import deepcopy
from pathlib import Path

from .model_folder import ModelFolder
from .project import Project, load_project
from .quantization import check_precision

__all__ = [
    "TFLiteConversionError",
    "conversion_needed",
    "convert_in_child",
    "main",
]

#: The child's last line on failure: this prefix, then a JSON object (type, message).
ERROR_PREFIX = "posekit-convert-error: "

#: Exceptions of the child that are bad input (their message says what to do): raised
#: again in the parent as ``ValueError``, shown as their message by the apps.
_BAD_INPUT = (ValueError, OSError)


class TFLiteConversionError(RuntimeError):
    """The conversion process failed; the message is the child's error."""


def conversion_needed(
    folder: ModelFolder,
    snapshot: str | os.PathLike,
    frame_shape: tuple[int, int],
    batch_size: int,
    precision: str,
) -> bool:
    """Whether the LiteRT model of a snapshot has to be converted (TensorFlow needed).

    ``False`` when :meth:`ModelFolder.tflite_model
    <posekit.engine.model_folder.ModelFolder.tflite_model>` would find everything it
    needs cached and current: the float32 model and, unless ``precision`` is
    ``"float32"``, the int8 model with its comparison report. With ``"auto"`` and no
    labelled frames (:meth:`ModelFolder.labelled_frames
    <posekit.engine.model_folder.ModelFolder.labelled_frames>` is ``None``) no int8
    model is made, so the float32 model is all it needs: such a project converts
    once, not at every analysis.

    Parameters
    ----------
    folder
        The model folder.
    snapshot
        The snapshot file (``.keras``).
    frame_shape
        ``(height, width)`` the network sees.
    batch_size
        Frames per call.
    precision
        ``"auto"``, ``"float32"`` or ``"int8"``.

    Returns
    -------
    bool
    """
    check_precision(precision)
    snapshot = Path(snapshot)
    if not snapshot.exists():
        return True  # (let the conversion say what is missing)
    tfl = folder.tflite_path(snapshot, frame_shape, batch_size)
    if not tfl.is_file() or tfl.stat().st_mtime < snapshot.stat().st_mtime:
        return True
    if precision == "float32":
        return False
    report = folder.quantization_report(frame_shape, batch_size, snapshot=snapshot)
    if report is not None:
        return False
    # no int8 yet: "auto" without labelled frames to calibrate on runs float32 (the
    # conversion would make nothing more); "int8" lets the conversion say what is
    # missing
    return precision == "int8" or folder.labelled_frames() is not None


def _command(
    folder: ModelFolder,
    snapshot: str | os.PathLike,
    frame_shape: tuple[int, int],
    batch_size: int,
    precision: str,
) -> list[str]:
    """Return the child's command line (with the project's folder and iteration)."""
    h, w = (int(v) for v in frame_shape)
    cmd = [
        sys.executable,
        "-m",
        __name__,
        "--folder",
        str(folder.path),
        "--snapshot",
        str(snapshot),
        "--height",
        str(h),
        "--width",
        str(w),
        "--batch-size",
        str(int(batch_size)),
        "--precision",
        precision,
    ]
    project = folder.project
    if project is not None:
        cmd += ["--project", str(project.path), "--iteration", str(project.iteration)]
    return cmd


def convert_in_child(
    folder: ModelFolder,
    snapshot: str | os.PathLike,
    frame_shape: tuple[int, int],
    batch_size: int,
    precision: str,
    *,
    stop_event: threading.Event | None = None,
) -> bool:
    """Convert in a child process and wait for it; TensorFlow stays out of this one.

    The child runs :meth:`ModelFolder.tflite_model
    <posekit.engine.model_folder.ModelFolder.tflite_model>` with the same arguments
    (the files are cached where this process then finds them) and ends.

    Parameters
    ----------
    folder, snapshot, frame_shape, batch_size, precision
        As for :func:`conversion_needed`.
    stop_event
        Set by another thread to stop: the child is ended (no file is left half
        written: conversions are written atomically) and ``False`` returned.

    Returns
    -------
    bool
        ``True`` when converted, ``False`` when stopped.

    Raises
    ------
    ValueError
        If the child refused bad input (a missing snapshot, ``"int8"`` without
        labelled frames): its message.
    TFLiteConversionError
        If the child failed otherwise: its error, or how it ended and the last lines
        it wrote.
    """
    check_precision(precision)
    cmd = _command(folder, snapshot, frame_shape, batch_size, precision)
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        try:
            while True:
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if stop_event is not None and stop_event.is_set():
                        _end(proc)
                        return False
        finally:
            if proc.poll() is None:  # (interrupted while waiting)
                _end(proc)
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    if proc.returncode == 0:
        return True
    _raise_child_error(text, proc.returncode)
    raise AssertionError("unreachable")  # pragma: no cover


def _end(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """End the child: SIGTERM (it removes its temporary files), SIGKILL if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _raise_child_error(text: str, returncode: int) -> None:
    """Raise the child's error (its last :data:`ERROR_PREFIX` line), else its output."""
    lines = text.splitlines()
    for line in reversed(lines):
        if line.startswith(ERROR_PREFIX):
            error = json.loads(line[len(ERROR_PREFIX) :])
            if error.get("bad_input"):
                raise ValueError(error["message"])
            raise TFLiteConversionError(
                "Converting the network for LiteRT failed in its own process: "
                f"{error['type']}: {error['message']}"
            )
    tail = "\n".join(lines[-20:])
    raise TFLiteConversionError(
        f"The process converting the network for LiteRT ended with code {returncode} "
        f"(out of memory, or killed?). Its last lines:\n{tail}"
    )


def _project(path: str | None, iteration: int | None) -> Project | None:
    """Load the project, with the iteration the parent analyses with."""
    if not path:
        return None
    project = load_project(path)
    if iteration is not None and int(project.iteration) != iteration:
        project = dataclasses.replace(project, cfg=deepcopy(project.cfg))
        project.cfg["iteration"] = iteration
    return project


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m posekit.engine.tflite_convert",
        description="Convert a snapshot for LiteRT (cached beside it) and exit.",
    )
    parser.add_argument("--folder", required=True, help="the model's train/ folder")
    parser.add_argument("--snapshot", required=True, help="the snapshot (.keras)")
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--project", default=None, help="the project's folder")
    parser.add_argument("--iteration", type=int, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Convert as the arguments say (the child's entry point).

    On failure the last line on stdout is :data:`ERROR_PREFIX` and a JSON object
    (``type``, ``message``, ``bad_input``), which :func:`convert_in_child` raises.

    Parameters
    ----------
    argv
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when converted, 1 on an error.
    """
    args = _parser().parse_args(argv)
    # ended by the parent (Stop): unwind, so that temporary files and locks go
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    from ._tf import quiet_startup

    quiet_startup()
    try:
        folder = ModelFolder(
            args.folder, project=_project(args.project, args.iteration)
        )
        with contextlib.redirect_stdout(sys.stderr):  # (stdout: the error line only)
            folder.tflite_model(
                (args.height, args.width),
                args.batch_size,
                precision=args.precision,
                snapshot=args.snapshot,
            )
    except Exception as err:  # noqa: BLE001 - the parent raises it again
        error = {
            "type": type(err).__name__,
            "message": str(err),
            "bad_input": isinstance(err, _BAD_INPUT),
        }
        print(ERROR_PREFIX + json.dumps(error), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
