"""create_multianimaltraining_dataset writes DeepLabCut's test/inference_cfg.yaml.

DeepLabCut writes its template there with the project's topktoretain (the
individuals) and minimalnumberofconnections (half the multi-animal bodyparts); posekit
wrote nothing. Writing the dataset again keeps the values a user set and writes the
project's two keys anew.
"""

from __future__ import annotations

import yaml

import posekit.engine as deeplabcut
from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder


def test_dataset_writes_dlcs_inference_cfg_and_keeps_your_values(tmp_path):
    project = make_demo_project(
        tmp_path, n_animals=3, n_frames=12, n_labeled=4, size=(160, 120)
    )
    deeplabcut.create_multianimaltraining_dataset(project.config_path)
    path = ModelFolder.of(project, 1).path.parent / "test" / "inference_cfg.yaml"
    assert (path.parent / "pose_cfg.yaml").is_file()
    cfg = yaml.safe_load(path.read_text())
    assert cfg == {
        "boundingboxslack": 0,
        "iou_threshold": 0.6,
        "max_age": 1,
        "method": "m1",
        "min_hits": 1,
        "minimalnumberofconnections": len(project.multianimal_bodyparts) / 2,
        "pafthreshold": 0.1,
        "pcutoff": 0.1,
        "topktoretain": 3,
        "variant": 0,
        "withid": False,
    }
    path.write_text(yaml.safe_dump({**cfg, "pafthreshold": 0.3, "topktoretain": 9}))
    deeplabcut.create_multianimaltraining_dataset(project.config_path)
    again = yaml.safe_load(path.read_text())
    assert again == {**cfg, "pafthreshold": 0.3}  # topktoretain: the project's again
