"""Stage 1 through its Lightning CLI: files, manifest, resume, errors, DDP sharding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import crmot
from crmot.data import load_split
from crmot.stages.tracklets import main
from crmot.tracklets.io import read_tracklets

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "conf" / "tracklets.yaml")


def _run(root: Path, out: Path, *extra: str) -> None:
    main(["predict", "--config", CONFIG, "--data.root", str(root), "--model.output_dir", str(out),
          "--trainer.accelerator", "cpu", *extra])


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("View*"))}


@pytest.fixture(scope="module")
def first_run(tiny_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1") / "tracklets"
    _run(tiny_root, out)
    return out


def test_writes_tracklets_masks_manifest_and_quality(tiny_root, first_run):
    for split in ("train", "test"):
        for scene in load_split(tiny_root, split):
            scene_dir = first_run / split / scene.name
            manifest = json.loads((first_run / "manifests" / split / scene.name / "manifest.json").read_text())
            assert manifest["key"]["backend"]["name"] == "classical"
            assert manifest["frames"] == scene.num_frames * len(scene.views) and manifest["frames_per_s"] > 0
            assert manifest["device"].startswith("cpu (")  # a speed figure names what ran it
            for view in scene.views:
                tracklets = read_tracklets(scene_dir, view.index)  # masks: one per row, checked on read
                assert len(tracklets.tracks) > 0
                assert (scene_dir / f"View{view.index}.txt").read_text().splitlines()[0].endswith(",-1,-1,-1")
        quality = json.loads((first_run / split / "quality.json").read_text())
        assert quality["backend"] == "classical"
        assert set(quality["views"]) == {v.folder_name for s in load_split(tiny_root, split) for v in s.views}
        assert {"MOTA", "IDF1", "recall", "precision", "mask_iou"} <= set(quality["mean"])


def test_rerun_skips_finished_scenes_and_overwrite_redoes_them(tiny_root, first_run, tmp_path, caplog):
    out = tmp_path / "tracklets"
    shutil.copytree(first_run, out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("manifest.json")}
    with caplog.at_level("INFO"):
        _run(tiny_root, out)
    assert caplog.text.count("up to date, skipped") == 2
    assert {p: p.stat().st_mtime_ns for p in out.rglob("manifest.json")} == stamps
    _run(tiny_root, out, "--model.overwrite", "true")
    assert all(p.stat().st_mtime_ns != t for p, t in stamps.items())
    assert _outputs(out) == _outputs(first_run)  # deterministic


def test_a_changed_backend_setting_invalidates_the_manifest(tiny_root, first_run, tmp_path, caplog):
    out = tmp_path / "tracklets"
    shutil.copytree(first_run, out)
    with caplog.at_level("INFO"):
        config = "--model.backend.init_args.config"
        _run(tiny_root, out, f"{config}.threshold", "30", f"{config}.tracker.min_hits", "2")
    assert "skipped" not in caplog.text


def test_an_output_of_other_crmot_source_is_redone(tiny_root, first_run, tmp_path, caplog, monkeypatch):
    from crmot.stages import manifest

    out = tmp_path / "tracklets"
    shutil.copytree(first_run, out)
    monkeypatch.setattr(manifest, "code_fingerprint", lambda *modules: "edited-source")
    with caplog.at_level("INFO"):
        _run(tiny_root, out)
    assert "skipped" not in caplog.text
    assert {json.loads(p.read_text())["code"] for p in out.rglob("manifest.json")} == {"edited-source"}


def test_stage_code_is_what_its_imports_reach():
    """A stage's manifest names its own code and its plug-ins', so an edit to training code leaves stage
    1's outputs standing, while an edit to its tracker redoes them."""
    from crmot.stages.manifest import code_fingerprint, source_files

    stage1 = {p.relative_to(Path(crmot.__file__).parent).as_posix()
              for p in source_files("crmot.stages.tracklets", "crmot.tracklets.backends.classical")}
    assert {"__init__.py", "stages/tracklets.py", "stages/manifest.py", "tracklets/tracker.py",
            "tracklets/backends/classical/detector.py", "data/crtrack.py"} <= stage1
    assert not any(p.startswith(("training/", "models/viewsam/", "inference/")) for p in stage1)
    assert "tracklets/backends/sam3.py" not in stage1  # a backend it was not configured with
    assert code_fingerprint("crmot.stages.tracklets") != code_fingerprint("crmot.stages.train")


def test_source_files_follow_imports_inside_functions(tmp_path, monkeypatch):
    from crmot.stages import manifest

    package = tmp_path / "crmot"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from crmot.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    import crmot.c\n")
    (package / "c.py").write_text("X = 1\n")
    (package / "d.py").write_text("from crmot.a import something_not_a_module\n")
    monkeypatch.setattr(manifest.crmot, "__file__", str(package / "__init__.py"))
    names = [p.relative_to(package).as_posix() for p in manifest.source_files("crmot.a")]
    assert names == ["__init__.py", "a.py", "c.py", "sub/__init__.py", "sub/b.py"]


def test_corrupt_frame_is_a_clear_error_and_finished_scenes_stay(tiny_root, first_run, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(tiny_root, root)
    test_scene = load_split(root, "test")[0]
    test_scene.views[1].frame_path(5).write_bytes(b"\xff\xd8 broken")
    out = tmp_path / "tracklets"
    with pytest.raises(SystemExit) as exit_info:
        _run(root, out)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{test_scene.views[1].frame_path(5)}: cannot decode frame 5" in err
    train_scene = load_split(root, "train")[0]
    assert (out / "manifests" / "train" / train_scene.name / "manifest.json").exists()  # the scene before stays written
    assert not (out / "manifests" / "test" / test_scene.name / "manifest.json").exists()


def test_missing_view_fails_before_any_work(tiny_root, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(tiny_root, root)
    view1 = load_split(root, "test")[0].views[0].path
    view1.rename(view1.with_name(view1.name.replace("View1", "View3")))
    out = tmp_path / "tracklets"
    with pytest.raises(SystemExit):
        _run(root, out)
    assert "missing view folder" in capsys.readouterr().err
    assert not out.exists()


def test_two_process_ddp_writes_the_same_files(tiny_root, first_run, tmp_path):
    out = tmp_path / "tracklets"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(REPO / "stages" / "tracklets.py"), "predict", "--config", CONFIG,
           "--data.root", str(tiny_root), "--model.output_dir", str(out), "--trainer.accelerator", "cpu",
           "--trainer.devices", "2", "--trainer.strategy", "ddp"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MEMBER: 2/2" in done.stdout + done.stderr
    assert _outputs(out) == _outputs(first_run)
