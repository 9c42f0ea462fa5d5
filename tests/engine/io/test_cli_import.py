"""``posekit import``: a project from SLEAP, COCO or Lightning Pose labels."""

from __future__ import annotations

import numpy as np

from posekit.engine.cli import main
from posekit.engine.cli.import_project import guess_source
from posekit.engine.io.coco import labels_to_coco, write_coco
from posekit.engine.io.dlc import labels_to_array, read_labels
from posekit.engine.project import load_project

from .test_lightning_pose import _lp_folder


def _printed_project(capsys):
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("next: posekit check-labels")
    return load_project(out[0])


def test_sleap_clip_imports_from_the_command_line(shared_data, tmp_path, capsys):
    clip = shared_data / "sleap-flies-clip" / "clip.slp"
    argv = ["import", str(clip), str(tmp_path / "flies"), "--max-frames", "3"]
    assert main([*argv, "--every", "300"]) == 0
    project = _printed_project(capsys)
    assert project.multianimal and project.individuals == ["female", "male"]
    assert project.scorer == "sleap"
    assert len(read_labels(project.labels_path("clip"))) == 3


def test_coco_and_lightning_pose_import_and_bad_input_writes_nothing(
    openfield_dir, tmp_path, capsys
):
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    coco = write_coco(
        labels_to_coco(labels, image_root=openfield_dir), tmp_path / "of.json"
    )
    images = tmp_path / "labeled-data"
    images.symlink_to(openfield_dir / "labeled-data")  # file_name paths are relative
    assert main(["import", str(coco), str(tmp_path / "of"), "--scorer", "Jo"]) == 0
    project = _printed_project(capsys)
    assert project.scorer == "Jo" and project.task == "of"
    back = read_labels(project.labels_path("m4s1"))
    np.testing.assert_array_equal(labels_to_array(back), labels_to_array(labels))

    df = _lp_folder(tmp_path / "mirror-mouse", visible=True)
    assert guess_source(tmp_path / "mirror-mouse") == "lightning-pose"
    assert main(["import", str(tmp_path / "mirror-mouse"), str(tmp_path / "lp")]) == 0
    project = _printed_project(capsys)
    assert project.bodyparts == list(dict.fromkeys(df.columns.get_level_values(1)))

    # told apart or refused, before anything is written
    (tmp_path / "notes.txt").write_text("x")
    assert main(["import", str(tmp_path / "notes.txt"), str(tmp_path / "n")]) == 2
    assert "pass --from" in capsys.readouterr().err
    assert main(["import", str(coco), str(tmp_path / "c"), "--every", "2"]) == 2
    assert "SLEAP labels only" in capsys.readouterr().err
    assert main(["import", str(coco), str(tmp_path / "of")]) == 2  # not empty
    assert "not an empty folder" in capsys.readouterr().err
    assert not (tmp_path / "n").exists() and not (tmp_path / "c").exists()
