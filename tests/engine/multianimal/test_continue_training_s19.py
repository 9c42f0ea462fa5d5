"""A continued multi-animal training trains the recipe of the model it continues.

QA s19: ``train_multianimal`` built its recipe from the defaults when it continued a
model. Started from an earlier model (``init_from``), it trained the default crop and
batch size, not the model's; resumed, it drew the default part-affinity graph and
field width again, whatever the snapshot had been trained with. The single-animal
``train_network`` keeps the recipe (``continuation_configs``, the snapshot's crop and
augmentation); now the multi-animal one does too, and an option given explicitly
still wins.
"""

from __future__ import annotations

import pytest
import yaml

from posekit.engine.demo import make_demo_project
from posekit.engine.multianimal.api import train_multianimal

pytestmark = pytest.mark.slow

GRAPH = [[0, 3], [3, 4], [4, 5]]  # snout–neck–spine–tailbase ("auto": all 15 pairs)
RECIPE = {
    "crop_size": (64, 96),  # default for 320×240 frames: 128×128
    "batch_size": 2,  # default 8
    "paf_graph": GRAPH,
    "paf_width": 3.5,  # default: from the animals' size
}
QUIET = {"progress": False, "save_interval_s": 0, "eval_interval": 0}


class _Stop(Exception):
    """Raised by a trainer hook: the recipe is checked, nothing is trained."""


def _pose_cfg(result) -> dict:
    return yaml.safe_load((result.train_dir / "pose_cfg.yaml").read_text())


def _recipe(cfg: dict) -> dict:
    """Return what a run trained: crop, batch, graph, field width, scale, augment."""
    train = cfg["posekit"]["train"]
    return {
        "crop_size": train["crop_size"],
        "batch_size": cfg["batch_size"],
        "graph": cfg["partaffinityfield_graph"],
        "pafwidth": cfg["pafwidth"],
        "global_scale": cfg["global_scale"],
        "augment": train["augment"],
    }


def _capture(seen: dict):
    def hook(trainer):
        seen["train"] = trainer.train_config
        seen["multi"] = trainer.multi_config
        raise _Stop

    return hook


def test_resuming_and_starting_from_a_model_keep_its_recipe(tmp_path):
    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    first = train_multianimal(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        **RECIPE,
        **QUIET,
    )
    recorded = _recipe(_pose_cfg(first))
    assert recorded["crop_size"] == [64, 96] and recorded["batch_size"] == 2
    assert recorded["graph"] == GRAPH and recorded["pafwidth"] == 3.5

    # resumed with no option: the recipe of the run it resumes
    resumed = train_multianimal(project, max_iterations=4, **QUIET)
    assert resumed.start_iteration == 2 and resumed.iteration == 4
    again = _recipe(_pose_cfg(resumed))
    assert again == recorded  # graph, field width, crop, batch size, augmentation

    # another shuffle started from that model: its whole recipe
    warm = train_multianimal(
        project, shuffle=2, init_from=resumed.snapshot, max_iterations=2, **QUIET
    )
    assert warm.initialised_from == resumed.snapshot
    assert _recipe(_pose_cfg(warm)) == recorded


def test_explicit_options_win_and_the_graph_cannot_change(tmp_path):
    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    first = train_multianimal(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=1,
        **RECIPE,
        **QUIET,
    )
    seen: dict = {}
    with pytest.raises(_Stop):  # resumed, a new field width
        train_multianimal(
            project, max_iterations=2, paf_width=5.0, trainer_hook=_capture(seen)
        )
    assert seen["multi"].paf_width == 5.0
    assert [list(e) for e in seen["multi"].paf_edges] == GRAPH
    with pytest.raises(_Stop):  # started from it: a new batch size and crop
        train_multianimal(
            project,
            shuffle=2,
            init_from=first.snapshot,
            max_iterations=2,
            batch_size=3,
            crop_size=(96, 96),
            trainer_hook=_capture(seen),
        )
    assert seen["train"].batch_size == 3 and seen["train"].crop_size == (96, 96)
    assert seen["multi"].paf_width == 3.5  # recorded

    with pytest.raises(ValueError, match="resuming trains the network's graph"):
        train_multianimal(project, max_iterations=2, paf_graph="all")
    with pytest.raises(ValueError, match="Cannot start from .*part-affinity graph"):
        train_multianimal(project, shuffle=2, init_from=first.snapshot, paf_graph="all")
    # the graph the model has: accepted
    with pytest.raises(_Stop):
        train_multianimal(
            project, max_iterations=2, paf_graph=GRAPH, trainer_hook=_capture(seen)
        )
