"""NWB for DANDI and movement (QA s23 interop, findings 3-6).

Several animals with subject fields and no ``subject_id`` (a DANDI-critical file) are
refused and ``--per-individual`` writes one file per animal; ``identifier`` starts
with the animal's name (movement names the individual by it) and stays unique;
``source_software`` is the program that made the poses (DeepLabCut for a
collaborator's file, posekit and its version for posekit's own), kept when read
back; DeepLabCut's ``analyze_videos_converth5_to_nwb`` converts a folder.
"""

from __future__ import annotations

import numpy as np
import pytest

import posekit.engine as dlc
from posekit.engine.cli import main
from posekit.engine.io import load, save
from posekit.engine.io.dlc import make_labels_frame, write_analysis_metadata
from posekit.engine.io.nwb import (
    NWBError,
    load_nwb,
    save_nwb,
    save_nwb_individuals,
    write_nwb_labels,
)
from posekit.engine.poses import from_numpy

pynwb = pytest.importorskip("pynwb")
pytest.importorskip("ndx_pose")

START = "2024-01-02T10:00:00+01:00"
SUBJECT = {"species": "Mus musculus", "sex": "M", "age": "P90D"}
SCORER = "DLC_resnet50_demoJan1shuffle1_100000"


def _two_mice(fps: float | None = 30.0):
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 300, (15, 2, 3, 2))
    conf = rng.uniform(0, 1, (15, 3, 2))
    pos[4, :, 1, 0] = np.nan
    conf[4, 1, 0] = np.nan
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=["snout", "ear", "tail"],
        individual_names=["mouse1", "mouse2"],
        fps=fps,
    )
    ds.attrs["skeleton"] = [["snout", "ear"], ["ear", "tail"]]
    return ds


def _read(path):
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        pe = f.processing["behavior"]["PoseEstimation"]
        return {
            "identifier": f.identifier,
            "session_description": f.session_description,
            "subject": dict(f.subject.fields) if f.subject is not None else None,
            "software": pe.source_software,
            # ndx-pose's class names it source_software_version, the file's spec
            # (ndx-pose not imported) source_software__version
            "version": pe.fields.get("source_software_version")
            or pe.fields.get("source_software__version"),
            "description": pe.description,
            "device": pe.fields["device"].name if "device" in pe.fields else None,
            "edges": pe.skeleton.edges[:].tolist(),
            "experimenter": list(f.experimenter or []),
        }


def test_several_animals_need_a_subject_id_or_one_file_each(tmp_path):
    ds = _two_mice()
    target = tmp_path / "social.nwb"
    with pytest.raises(NWBError, match="--per-individual") as err:
        save_nwb(ds, target, subject=SUBJECT, session_start_time=START)
    assert "--subject-id" in str(err.value) and "mouse1, mouse2" in str(err.value)
    assert not target.exists()
    # a subject id names the file's subject: allowed
    group = save_nwb(
        ds, target, subject={**SUBJECT, "subject_id": "cage7"}, session_start_time=START
    )
    with pynwb.NWBHDF5IO(str(group), "r") as io:
        f = io.read()
        assert f.subject.subject_id == "cage7" and f.identifier.startswith("cage7_")
    # one file per animal: each its own subject and identifier, read back together
    files = save_nwb_individuals(ds, tmp_path / "ind.nwb", subject=SUBJECT)
    assert [f.name for f in files] == ["ind_mouse1.nwb", "ind_mouse2.nwb"]
    infos = [_read(f) for f in files]
    assert [i["subject"]["subject_id"] for i in infos] == ["mouse1", "mouse2"]
    assert all(i["subject"]["species"] == "Mus musculus" for i in infos)
    assert infos[0]["identifier"].startswith("mouse1_")
    assert infos[1]["identifier"].startswith("mouse2_")
    back = load_nwb(files)
    assert back.individual.values.tolist() == ["mouse1", "mouse2"]
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    # one subject id for several files would name two animals alike
    with pytest.raises(NWBError, match="names one animal"):
        save_nwb_individuals(ds, tmp_path / "x.nwb", subject={"subject_id": "m"})


def test_multi_animal_labels_with_subject_fields_need_an_id(tmp_path):
    rows = ["labeled-data/v/img0.png", "labeled-data/v/img1.png"]
    xy = np.arange(2 * 2 * 3 * 2, dtype=float).reshape(2, 2, 3, 2)
    labels = make_labels_frame(
        "me", ["a", "b", "c"], rows, xy, individuals=["mouse1", "mouse2"]
    )
    with pytest.raises(NWBError, match="subject_id"):
        write_nwb_labels(labels, tmp_path / "l.nwb", subject=SUBJECT)
    assert not (tmp_path / "l.nwb").exists()
    out = write_nwb_labels(
        labels, tmp_path / "l.nwb", subject={**SUBJECT, "subject_id": "cage7"}
    )
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        assert io.read().identifier.startswith("cage7_")


def test_cli_refuses_then_writes_one_file_per_animal(tmp_path, capsys):
    h5 = save(_two_mice(), tmp_path / f"session1{SCORER}_el.h5", scorer=SCORER)
    meta = ["--session-start", START, "--species", "Mus musculus", "--sex", "M"]
    meta += ["--age", "P90D"]
    out = tmp_path / "social.nwb"
    assert main(["convert", str(h5), str(out), *meta]) == 2
    said = capsys.readouterr().err
    assert "--per-individual" in said and "--subject-id" in said
    assert not out.exists()
    assert main(["convert", str(h5), str(out), "--per-individual", *meta]) == 0
    printed = capsys.readouterr().out.split()
    files = [tmp_path / "social_mouse1.nwb", tmp_path / "social_mouse2.nwb"]
    assert printed == [str(f) for f in files]
    assert [_read(f)["subject"]["subject_id"] for f in files] == ["mouse1", "mouse2"]
    # the workaround of QA s23 still works: one animal, named after it
    one = tmp_path / "m2.nwb"
    assert main(["convert", str(h5), str(one), "--individual", "mouse2", *meta]) == 0
    assert _read(one)["subject"]["subject_id"] == "mouse2"
    assert main(["convert", str(h5), str(tmp_path / "x.nc"), "--per-individual"]) == 2


def test_provenance_is_the_program_that_made_the_poses(tmp_path):
    ds = _two_mice().sel(individual=["mouse1"])
    # a collaborator's DeepLabCut file (no posekit _meta.pickle)
    h5 = save(ds, tmp_path / f"m1{SCORER}.h5", scorer=SCORER)
    nwb = save_nwb(load(h5), tmp_path / "theirs.nwb", subject={"subject_id": "m3"})
    theirs = _read(nwb)
    assert (theirs["software"], theirs["version"]) == ("DeepLabCut", None)
    assert theirs["session_description"] == "poses from DeepLabCut"
    assert "mouse1 (subject m3)" in theirs["description"]
    assert theirs["identifier"].startswith("m3_")
    back = load(tmp_path / "theirs.nwb")
    assert back.attrs["source_software"] == "DeepLabCut"  # not "NWB"
    again = _read(save_nwb(back, tmp_path / "again.nwb"))  # NWB -> NWB keeps it
    assert again["software"] == "DeepLabCut"
    # posekit's own analysis: its _meta.pickle has posekit's keys
    write_analysis_metadata(
        tmp_path / f"m1{SCORER}_meta.pickle",
        {"fps": 30.0, "precision": "float32", "frames_per_second": 90.0},
    )
    ours = _read(save_nwb(load(h5), tmp_path / "ours.nwb"))
    assert (ours["software"], ours["version"]) == ("posekit", dlc.__version__)
    assert ours["session_description"] == f"poses from posekit {dlc.__version__}"
    read = load(tmp_path / "ours.nwb")
    assert read.attrs["source_software"] == "posekit"
    assert read.attrs["source_software_version"] == dlc.__version__
    given = _read(save_nwb(ds, tmp_path / "g.nwb", source_software="SLEAP",
                           source_software_version="1.4.1"))  # fmt: skip
    assert (given["software"], given["version"]) == ("SLEAP", "1.4.1")


def test_converth5_to_nwb_converts_the_projects_predictions(
    demo_project, fake_analysis
):
    truth = fake_analysis(demo_project, {})
    video = demo_project.videos()[0]
    folder = video.parent
    single = folder / f"{video.stem}DLC_effnet_lite0_demoJan1shuffle1_500.h5"
    # a multi-animal tracks file of the project's network, and another project's
    ds = load(single)
    two = ds.isel(individual=[0, 0]).assign_coords(individual=["mouse1", "mouse2"])
    tracks = save(
        two,
        single.with_name(single.stem + "_el.h5"),
        scorer=single.stem[len(video.stem) :],
    )
    foreign = save(ds, folder / f"{video.stem}DLC_resnet50_otherMar3shuffle1_10.h5")
    files = dlc.analyze_videos_converth5_to_nwb(
        str(demo_project.config_path),
        str(folder),
        videotype="mp4",
        subject=SUBJECT,
        session_start_time=START,
    )
    assert sorted(f.name for f in files) == sorted(
        [
            single.with_suffix(".nwb").name,
            f"{tracks.stem}_mouse1.nwb",
            f"{tracks.stem}_mouse2.nwb",
        ]
    )
    assert not foreign.with_suffix(".nwb").exists()
    back = load(single.with_suffix(".nwb"))
    np.testing.assert_array_equal(
        back.position.values[:, :, :, 0], truth.transpose(0, 2, 1)
    )
    assert back.attrs["fps"] == pytest.approx(30.0)  # the video's rate
    info = _read(single.with_suffix(".nwb"))
    kps = demo_project.bodyparts
    assert info["edges"] == [
        [kps.index(a), kps.index(b)] for a, b in demo_project.skeleton
    ]
    assert info["experimenter"] == [demo_project.scorer]
    assert info["device"] == "camera" and info["software"] == "DeepLabCut"
    per_mouse = [_read(f) for f in files if "_el_" in f.name]
    assert sorted(i["subject"]["subject_id"] for i in per_mouse) == ["mouse1", "mouse2"]
