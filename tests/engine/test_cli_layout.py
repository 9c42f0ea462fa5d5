"""The ``posekit`` command line as a package of one module per command.

Help texts kept, commands registered from one list, no TensorFlow for the commands
that do not need it. ``data/cli_help.json`` holds the help of every command as the
single-module CLI (``engine/cli.py`` before it became ``engine/cli/``) printed it: the
parser's structure (texts, options, defaults; the same on every Python) and, for the
Python it was captured with, the exact text at 80 columns. Entries re-captured since,
for options added on purpose:

- ``analyze``: issue 16 (--precision, --model, --cluster, --workers, --shard,
  --chunk-frames; --batch-size chosen by frame size), issue 15 (--animals,
  --track-method); videos may be folders; --overwrite (videos analysed before are
  skipped, as in DeepLabCut) and what a batch does with a video it cannot read;
  --trainingsetindex (DeepLabCut's, with ``train`` and ``evaluate``); QA s15: a
  video config.yaml lists but is not found, the output locks (exit status 75) and
  resuming an interrupted analysis, --shuffle's help; QA s17: --precision auto runs
  int8 only when it agrees with float, and a line per network and frame size says
  which precision runs; QA s17 (videos): --videotype, the camera types a folder
  stands for, and exit status 2 for a video that fails or is truncated; QA s18:
  --model refuses a project's --shuffle, --trainingsetindex, --animals and
  --track-method (their defaults are None: not given; a project takes 1 and 0);
  S19: --batch-size is at most config.yaml's batch_size (DeepLabCut's) and is
  checked by argparse, as --workers is; --no-tflite refuses --precision int8;
  --workers alone means --cluster local; --chunk-frames is checked by argparse
  and refused without --cluster or --shard; QA s21 (cluster): --shard is checked by
  argparse, and its help says that a task's share of the chunks is fixed by the
  video and the chunk (tasks in any order) and what a task prints; s24: --model
  takes the folder a model file unzips to;
- ``create``: videos may be folders; --individuals and --unique-bodyparts (a
  multi-animal project from the command line);
- ``create-training-dataset``: QA s15, existing splits are mapped by image onto
  changed labels; S19: --net-type (DeepLabCut's net_type, as in Python);
- ``demo``: issue 15 (--animals), issue 14 (--view, --rare, --incidents);
- ``extract-frames``: QA s17 (videos): image i is frame i whatever the container,
  images that do not show their frame are extracted again unless labelled, a video
  that cannot be read is named (exit status 2);
- the main help (``posekit --help``): QA s15, its "exit status" section (0, 2, 75,
  130, 143) and the global -q/--quiet and --threads N;
- ``evaluate``: issue 15 (--tracks, --truth); --trainingsetindex; QA s15: --shuffle
  has a help text and its default (as every command's); QA s18: --shuffle may be
  repeated (several shuffles evaluated in turn, as DeepLabCut's ``Shuffles=[1, 2]``);
  QA s18: --min-oks and --max-distance (the gate of --tracks' matching), --plot
  draws every labelled frame (``Training-…``/``Test-…``, as DeepLabCut); s24: its
  line in the command list says what single- and multi-animal results hold;
- ``filter``: files may be folders of videos; --shuffle and --trainingsetindex
  (QA s15: the predictions of one shuffle's network, as its siblings take them);
  QA s18: --track-method (several animals: the config's default_track_method by
  default, as DeepLabCut), a missing point stays missing, the files read and
  written are printed;
- ``train``: --trainingsetindex (which of the config's TrainingFraction); QA s15:
  --shuffle's help, a resumed training keeps its backbone (--backbone), what
  --minutes counts, and values checked by argparse (--iterations, --minutes,
  --batch-size); QA s17: --epochs and --save-epochs (DeepLabCut 3's, converted
  into iterations as ``train_network(epochs=, save_epochs=)``); QA s18:
  --weigh-only-present-joints / --no-weigh-only-present-joints (DeepLabCut's
  pose_cfg.yaml key, ``train_network(weigh_only_present_joints=)``); QA s23 (DLC 3
  user): --maxiters, DeepLabCut's name, beside --iterations;
- ``labeled-video``: its texts name the output as it is now named,
  ``<predictions>_p<pcutoff*100>_labeled.mp4`` (the main help's line too); files may
  be folders of videos; --color-by and --bodyparts (DeepLabCut's color_by and
  displayedbodyparts); --shuffle and --trainingsetindex (QA s15, as ``filter``);
  QA s18: --track-method and the files read and written, as ``filter``.

Commands added after the single-module CLI (``NEW_COMMANDS``) may have their help
text captured too (under ``text`` only; the structure test leaves them out):

- ``export-model``: --out FILE (the file to write, as every other command names its
  output; the positional OUT kept for existing scripts, optional, refused together
  with --out; neither: ``exported-models/<scorer>.posekit.zip``).
- ``convert``: QA s16, --fps says where the frame rate comes from without it (the
  input's, else its video's) and what NWB gets when there is none; QA s17 (interop):
  --fps numbers the frames of an input timed in seconds, --pose-estimation (one
  camera of an NWB file), --images (the COCO dataset of results) and the NWB
  metadata options (--session-start, --subject-id, --species, --sex, --age, ...);
  QA s21: the description says which labels become label files (labelled images)
  and that labels on a video's frames are written like predictions, and --fps that
  the video's rate is taken for every output, not only NWB; QA s21 (lightningpose):
  --video (a SLEAP output on the source video, labelled images onto the frames they
  are named after), --skeleton FILE (the edges of a config.yaml or tracking file)
  and --individual NAME (one animal, e.g. for Lightning Pose); QA s23 (sleapuser):
  --video is written absolute when found, and one not found is warned about; QA s23
  (interop): --movement-dims (a netCDF output's dimension names, plural for movement
  0.15 and 0.16), --per-individual (one NWB file per animal) and --subject-id's help
  (needed for several individuals in one file).

To recapture one entry, print ``posekit COMMAND --help`` at ``COLUMNS=80`` with the
snapshot's Python (:func:`help_text`) and store it under ``text[COMMAND]`` of
``data/cli_help.json`` (``json.dumps(..., indent=1, ensure_ascii=False)`` and a
final newline, as the file is written).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from posekit.engine import cli
from posekit.engine.cli import build_parser, main

SNAPSHOT = json.loads((Path(__file__).parent / "data" / "cli_help.json").read_text())
NEW_COMMANDS = [
    "behavior",
    "convert",
    "export-model",
    "live",
    "extract-outliers",
    "label",
    "merge",
    "import",
    "analyze-images",
]


def describe(parser: argparse.ArgumentParser) -> dict:
    """Return a parser's texts, options and defaults (independent of the Python)."""
    actions, sub = [], None
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            sub = a
            continue
        actions.append(
            {
                "options": list(a.option_strings),
                "dest": a.dest,
                "nargs": a.nargs,
                "default": repr(a.default),
                "type": getattr(a.type, "__name__", None),
                "choices": list(a.choices) if a.choices else None,
                "help": a.help,
                "metavar": a.metavar,
                "required": a.required,
                "action": type(a).__name__,
            }
        )
    out = {
        "prog": parser.prog,
        "description": parser.description,
        "epilog": parser.epilog,
        "actions": actions,
    }
    if sub is not None:
        out["commands"] = {c.dest: c.help for c in sub._choices_actions}
        out["subparsers"] = {name: describe(p) for name, p in sub.choices.items()}
    return out


def help_text(argv: list[str]) -> str:
    """Return what ``posekit ARGV`` prints (``--help`` in ``argv``)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    return buf.getvalue()


def _without_new_commands(text: str) -> str:
    """Drop the lines of the new commands from the main help's command list."""
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        name = line.strip().split(" ")[0] if line.startswith("    ") else ""
        if line.startswith("    ") and not line.startswith(" " * 24):
            skipping = name in NEW_COMMANDS
        elif not line.startswith(" " * 24):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def test_commands_in_the_same_order_plus_the_new_ones() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == SNAPSHOT["commands"] + NEW_COMMANDS


def test_help_structure_unchanged() -> None:
    now = describe(build_parser())
    before = SNAPSHOT["structure"]
    for name in NEW_COMMANDS:
        assert now["commands"].pop(name)
        assert now["subparsers"].pop(name)["prog"] == f"posekit {name}"
    assert now == before


@pytest.mark.parametrize(
    "command",
    ["", *SNAPSHOT["commands"], *(c for c in NEW_COMMANDS if c in SNAPSHOT["text"])],
)
def test_help_text_unchanged(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    python = ".".join(map(str, sys.version_info[:2]))
    if python != SNAPSHOT["python"]:
        pytest.skip(
            f"help text captured with Python {SNAPSHOT['python']} (argparse formats "
            f"differently on {python}); the structure test covers this Python"
        )
    monkeypatch.setenv("COLUMNS", "80")
    text = help_text([command, "--help"] if command else ["--help"])
    if not command:
        assert "    behavior " in text
        text = _without_new_commands(text)
    assert text == SNAPSHOT["text"][command]


def test_commands_registered_from_one_list() -> None:
    names = [module.NAME for module in cli.COMMAND_MODULES]
    assert names == SNAPSHOT["commands"] + NEW_COMMANDS
    assert list(cli._COMMANDS) == names
    for module in cli.COMMAND_MODULES:
        assert callable(module.add_parser) and callable(module.run)
        assert cli._COMMANDS[module.NAME] is module.run


def _modules_after(argv: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys\n"
        "from posekit.engine.cli import main\n"
        "try:\n"
        f"    rc = main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    rc = exit.code\n"
        "print('RC', rc)\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "80"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines["RC"] == "0", proc.stdout[-3000:] + proc.stderr[-3000:]
    return set(lines["MODULES"].split())


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["analyze", "--help"],
        ["behavior", "--help"],
        ["behavior", "classify", "--help"],
        ["--version"],
    ],
)
def test_help_imports_no_tensorflow(argv: list[str], tmp_path: Path) -> None:
    modules = _modules_after(argv, tmp_path)
    assert not {"tensorflow", "keras"} & {m.split(".")[0] for m in modules}
    # the help of one command imports none of the command modules' work
    assert "posekit.engine.api" not in modules


def test_commands_without_a_network_import_no_tensorflow(tmp_path: Path) -> None:
    project = tmp_path / "demo-posekit-2026-01-01"
    truth = project / "ground-truth" / "session1_keypoints.h5"
    for argv in (
        ["demo", str(tmp_path), "--frames", "30", "--labeled", "5"],
        ["create-training-dataset", str(project)],
        ["behavior", "features", str(truth), "--out", str(tmp_path / "f.csv")],
    ):
        modules = _modules_after(argv, tmp_path)
        assert not {"tensorflow", "keras"} & {m.split(".")[0] for m in modules}, argv
    assert (project / "training-datasets").is_dir()
    assert (tmp_path / "f.csv").is_file()


def test_python_m_runs_the_command_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "posekit.engine.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0.1.0"


def test_main_maps_errors_to_exit_codes(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    rc = main(["behavior", "features", str(tmp_path / "none.h5"), "--out", "x.csv"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("posekit behavior features: error: No file or folder at")
    assert "Traceback" not in err
