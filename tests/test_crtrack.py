"""The CRTrack reader/writer: exact round trips and clear errors on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from crmot.data import CRTrackFormatError, load_scene, load_split
from crmot.data.crtrack import Expression, read_expressions, write_descriptions, write_expressions, write_view
from crmot.data.expression_files import (
    expression_gt,
    load_expression_gt,
    load_predictions,
    write_expression_gt,
    write_predictions,
)
from crmot.data.frames import read_frame
from crmot.data.tracks import read_tracks


def _copy(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(root, dst)
    return dst


def _label_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".txt", ".ini")}


def test_read_then_write_reproduces_every_label_file_byte_for_byte(tiny_root, tmp_path):
    out = tmp_path / "rewritten"
    for split in ("train", "test"):
        for scene in load_split(tiny_root, split):
            for view in scene.views:
                write_view(out, split, scene.name, view.index, view.seqinfo, view.gt)
            write_expressions(out, split, scene.name, scene.expressions)
            write_descriptions(out, split, scene.name, scene.descriptions)
    original = _label_files(tiny_root)
    assert original and _label_files(out) == original


def test_crtrack_style_rows_round_trip(tmp_path):
    text = "210,6,1836,368,80,288,1,1,1\n211,6,1832.5,368,84,284,1,1,1\n"
    path = tmp_path / "gt.txt"
    path.write_text(text)
    assert read_tracks(path).to_text() == text


def test_expressions_are_split_at_the_last_separator(tmp_path):
    path = tmp_path / "Gate2.txt"
    sentence = "A man in a black cap, red  coat and blue trousers, holding a can. Or a book.:"
    path.write_text(f"Gate2_{sentence}.:3, 11\n\nGate2_A man wearing a café coat.:4\n")
    first, second = read_expressions(path, "Gate2")
    assert first == Expression("Gate2", sentence, (3, 11))
    assert first.name == f"Gate2_{sentence}"
    assert second.sentence == "A man wearing a café coat" and second.ids == (4,)


def test_files_saved_on_windows_read_as_the_same_scene(tiny_root, tmp_path):
    """A byte-order mark and CRLF line ends (what Notepad writes) change nothing that is read."""
    root = _copy(tiny_root, tmp_path)
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".txt", ".ini"):
            path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    for split in ("train", "test"):
        for original, saved in zip(load_split(tiny_root, split), load_split(root, split)):
            assert saved.expressions == original.expressions and saved.descriptions == original.descriptions
            for a, b in zip(original.views, saved.views):
                assert a.seqinfo == b.seqinfo and a.gt.to_text() == b.gt.to_text()


@pytest.mark.parametrize("name", ["expressions", "seqinfo.ini", "gt.txt"])
def test_a_file_that_is_not_utf8_is_named(tiny_root, tmp_path, name):
    root = _copy(tiny_root, tmp_path)
    scene = load_split(root, "test")[0]
    path = {"expressions": root / f"labels_with_ids_text/test/tackled_text/{scene.name}.txt",
            "seqinfo.ini": scene.views[0].path / "seqinfo.ini", "gt.txt": scene.views[0].path / "gt" / "gt.txt"}[name]
    path.write_bytes(path.read_bytes() + "café\n".encode("latin-1"))
    with pytest.raises(CRTrackFormatError, match="not UTF-8") as err:
        load_scene(root, "test", scene.name)
    assert err.value.path == str(path)


@pytest.mark.parametrize(
    ("line", "reason"),
    [("Gate2_A man wearing a red coat.:", "refers to no id"),
     ("Gate2_A man wearing a red coat", "no '.:'"),
     ("Gate2_A man.:1,x", "ids must be integers"),
     ("Gate3_A man.:1", "does not start with 'Gate2_'")],
)
def test_bad_expression_lines_name_file_and_line(tmp_path, line, reason):
    path = tmp_path / "Gate2.txt"
    path.write_text(f"Gate2_A man.:1\n{line}\n")
    with pytest.raises(CRTrackFormatError, match=reason) as err:
        read_expressions(path, "Gate2")
    assert err.value.line == 2 and str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "reason", "line"),
    [("1,1,0,0,5,5,1,1,1\n2,1,0,0,5\n", "expected 9 comma-separated values, found 5", 2),
     ("1,1,0,0,5,5,1,1,1\n\n2,1,0,zero,5,5,1,1,1\n", "not a number: 'zero'", 3),
     ("1,1,0,0,5,5,1,1,1\n2,1,0,0,-5,5,1,1,1\n", "negative width or height", 2),
     ("1,1,0,0,5,5,1,1,1\n1,2,0,0,5,5,1,1,1\n1,1,3,3,5,5,1,1,1\n", r"duplicate \(frame, id\) = \(1, 1\)", 3),
     ("0,1,0,0,5,5,1,1,1\n", "1-based", 1),
     ("1.5,1,0,0,5,5,1,1,1\n", "frame must be an integer", 1)],
)
def test_malformed_rows_raise_one_clear_error(tmp_path, content, reason, line):
    path = tmp_path / "gt.txt"
    path.write_text(content)
    with pytest.raises(CRTrackFormatError, match=reason) as err:
        read_tracks(path)
    assert err.value.line == line
    assert f"{path}:{line}:" in str(err.value)


def test_missing_view_folder_is_reported(tiny_root, tmp_path):
    root = _copy(tiny_root, tmp_path)
    scene = load_split(root, "test")[0]
    view1 = scene.views[0].path
    view1.rename(view1.parent / f"{scene.name}_View3")
    with pytest.raises(CRTrackFormatError, match="missing view folder") as err:
        load_scene(root, "test", scene.name)
    assert err.value.path.endswith(f"{scene.name}_View1")


def test_expressions_without_view_folders_are_reported(tiny_root, tmp_path):
    root = _copy(tiny_root, tmp_path)
    (root / "labels_with_ids_text/test/tackled_text/Ghost.txt").write_text("Ghost_A man.:1\n")
    with pytest.raises(CRTrackFormatError, match="no view folder"):
        load_split(root, "test")


def test_mismatched_view_lengths_are_reported(tiny_root, tmp_path):
    root = _copy(tiny_root, tmp_path)
    scene = load_split(root, "test")[0]
    view = scene.views[1]
    last = scene.num_frames
    ini = view.path / "seqinfo.ini"
    ini.write_text(ini.read_text().replace(f"seqLength={last}", f"seqLength={last - 1}"))
    view.frame_path(last).unlink()
    write_view(root, "test", scene.name, view.index, view.seqinfo, view.gt.select(view.gt.frames < last))
    ini.write_text(ini.read_text().replace(f"seqLength={last}", f"seqLength={last - 1}"))
    with pytest.raises(CRTrackFormatError, match="differ in length"):
        load_scene(root, "test", scene.name)


def test_frames_are_read_lazily_and_corrupt_ones_are_reported(tiny_root, tmp_path):
    root = _copy(tiny_root, tmp_path)
    view = load_split(root, "train")[0].views[0]
    frame = read_frame(view, 2)
    assert frame.shape == (view.seqinfo.height, view.seqinfo.width, 3) and frame.dtype == np.uint8
    view.frame_path(2).write_bytes(b"not a jpeg")
    with pytest.raises(CRTrackFormatError, match="cannot decode frame 2") as err:
        read_frame(view, 2)
    assert err.value.path == str(view.frame_path(2))


def test_per_expression_gt_and_predictions_round_trip(tiny_root, tmp_path):
    scene = load_split(tiny_root, "test")[0]
    derived = expression_gt(scene)
    write_expression_gt(tmp_path / "gt", derived)
    reread = load_expression_gt(tmp_path / "gt")
    assert set(reread) == {e.name for e in scene.expressions}
    for name, views in derived.items():
        for k, rows in views.items():
            np.testing.assert_array_equal(reread[name][k].boxes, rows.sorted().boxes)
            assert set(rows.ids) <= set(next(e for e in scene.expressions if e.name == name).ids)
            write_predictions(tmp_path / "pred", name, k, rows)
    preds = load_predictions(tmp_path / "pred")
    name = scene.expressions[0].name
    np.testing.assert_allclose(preds[name][1].boxes, derived[name][1].sorted().boxes)
    first = (tmp_path / "pred" / name / "View1.txt").read_text().splitlines()
    assert not first or first[0].endswith(",1,-1,-1,-1")
