"""``posekit label`` and frames with machine labels (QA s16 #4, #8).

A refined outlier frame (or one pre-filled by ``--from-predictions``) whose guesses
are partly accepted has empty points that are unchecked guesses, not hidden parts:
``--missing-not-visible`` is neither offered for it nor applied to it (a count and a
note say so). The closing hint names the Label app and how to start the apps without
a Makefile.
"""

from __future__ import annotations

import numpy as np
import yaml

from posekit.engine.cli import main
from posekit.engine.labels import LabelStore, never_labelled, read_visibility
from posekit.engine.project import load_project
from posekit.engine.refinement import write_machine_labels


def _machine_labels(project, frames):
    k = len(project.bodyparts)
    xyp = np.tile(np.array([30.0, 40.0, 0.9]), (len(frames), k, 1))
    write_machine_labels(
        project,
        "session1",
        frames,
        xyp,
        "DLC_resnet50_demoshuffle1_100",
        project.bodyparts,
    )


def test_missing_not_visible_leaves_frames_with_machine_labels(demo_project, capsys):
    path = str(demo_project.path)
    store = LabelStore(demo_project, "session1")
    outlier, dlc = store.frames[0], store.frames[1]
    # the outlier frame: one guess corrected, the rest not accepted yet (empty)
    keep = demo_project.bodyparts[0]
    store.apply(outlier, dict.fromkeys(demo_project.bodyparts[1:], (np.nan, np.nan)))
    store.clear_point(dlc, "tailbase")  # labelled in DLC, the tail base hidden
    store.save()
    _machine_labels(demo_project, [outlier])

    assert main(["label", path]) == 0
    out = capsys.readouterr().out
    # only the DLC frame is offered the hint
    assert "1 frame(s) have some points but not all" in out
    assert "--missing-not-visible" in out

    assert main(["label", path, "--missing-not-visible"]) == 0
    out = capsys.readouterr().out
    assert "session1: 1 empty point(s) of labelled frames marked not visible" in out
    assert (
        "session1: 1 frame(s) with machine labels left as they are: accept or "
        "correct their guesses in the refine app"
    ) in out
    marks = read_visibility(demo_project, "session1")["not_visible"]
    assert marks == {(dlc, "tailbase")}
    assert not any(f == outlier for f, _ in marks)
    assert np.isfinite(LabelStore(demo_project, "session1").point(outlier, keep)).all()

    # nothing more to offer: the outlier frame's guesses wait in the refine app
    assert main(["label", path]) == 0
    out = capsys.readouterr().out
    assert "have some points but not all" not in out


def test_label_says_how_to_start_the_label_app(demo_project, capsys):
    store = LabelStore(demo_project, "session1")
    store.clear_point(store.frames[0], "tailbase")
    store.save()
    assert main(["label", str(demo_project.path)]) == 0
    out = capsys.readouterr().out
    assert "make app, then Label" not in out
    assert "python -m posekit.widgets.serve" in out
    assert "Label app" in out


def test_a_bodypart_added_after_labelling_is_not_marked_not_visible(
    demo_project, capsys
):
    """QA s17 (side view #3): a new bodypart is not labelled yet, not hidden."""
    cfg = yaml.safe_load(demo_project.config_path.read_text())
    cfg["bodyparts"] = [*cfg["bodyparts"], "nose"]
    demo_project.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    project = load_project(demo_project.path)
    path = str(project.path)
    store = LabelStore(project, "session1")
    hidden = store.frames[1]
    store.clear_point(hidden, "tailbase")  # labelled in DLC, the tail base hidden
    store.save()

    assert main(["label", path]) == 0
    out = capsys.readouterr().out
    assert "nose: no label in any frame yet" in out
    # the hint counts the frame with a hidden part, not every frame lacking nose
    assert "1 frame(s) have some points but not all" in out

    assert main(["label", path, "--missing-not-visible"]) == 0
    out = capsys.readouterr().out
    assert "session1: 1 empty point(s) of labelled frames marked not visible" in out
    marks = read_visibility(project, "session1")["not_visible"]
    assert marks == {(hidden, "tailbase")}
    assert never_labelled(project, ["session1"]) == ["nose"]
