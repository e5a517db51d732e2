#!/usr/bin/env bash
# The light install (`pip install .`: numpy, scipy and rich only) in its own venv, with no torch,
# checks and scores a root that the full install (.venv) generated.
set -euo pipefail
cd "$(dirname "$0")/.."
work=build/light
rm -rf "$work" && mkdir -p "$work"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet .
if "$work/venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "light install: torch is importable, it must not be" >&2
    exit 1
fi
.venv/bin/crmot data generate "$work/root" --preset tiny --seed 1 --workers 1 > /dev/null
# predictions: the ground truth itself, one view of it moved a little
.venv/bin/python - "$work/root" "$work/pred" <<'PY'
import sys
import numpy as np
from crmot.data.crtrack import load_split
from crmot.data.expression_files import expression_gt, write_predictions
from crmot.data.tracks import Tracks

root, pred = sys.argv[1], sys.argv[2]
for scene in load_split(root, "test"):
    for name, views in expression_gt(scene).items():
        for k, tracks in views.items():
            boxes = tracks.boxes + (np.array([3.0, 0, 0, 0]) if k == 1 else 0)
            write_predictions(pred, name, k, Tracks(tracks.frames, tracks.ids, boxes, np.ones((len(tracks), 1))))
PY
"$work/venv/bin/crmot" data check "$work/root"
"$work/venv/bin/crmot" evaluate --gt "$work/root" --pred "$work/pred" --split test --json "$work/report.json"
"$work/venv/bin/python" -c "
import json, sys
report = json.load(open('$work/report.json'))
mean = report['mean']
assert 0 < mean['CVRIDF1'] <= 100 and mean['num_expressions'] > 0, mean
print('light install: crmot evaluate and crmot data check ran without torch; mean', mean)
"
