"""A literal, slow port of the MOTChallenge devkit loops (clearMOTMex, IDmeasures), for cross-checks.

Frame by frame, dict by dict, exactly as the C++/MATLAB does; only used by tests to check that
crmot's vectorized metrics count the same.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

INF = 1e9


def _iou(a, b):
    ow = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    oh = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ow * oh
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def clear_mot(gt, pred, threshold=0.5):
    frames = int(max(gt.frames.max(initial=0), pred.frames.max(initial=0)))
    gt_ind = [dict() for _ in range(frames + 1)]
    st_ind = [dict() for _ in range(frames + 1)]
    for r, (f, i) in enumerate(zip(gt.frames, gt.ids)):
        gt_ind[f][int(i)] = gt.boxes[r]
    for r, (f, i) in enumerate(zip(pred.frames, pred.ids)):
        st_ind[f][int(i)] = pred.boxes[r]
    M = [dict() for _ in range(frames + 1)]
    mme = c = fp = m = 0
    for t in range(1, frames + 1):
        if t > 1:
            for o, e in sorted(M[t - 1].items()):
                if o in gt_ind[t] and e in st_ind[t] and 1 - _iou(gt_ind[t][o], st_ind[t][e]) <= threshold:
                    M[t][o] = e
        un_gt = sorted(o for o in gt_ind[t] if o not in M[t])
        mapped = set(M[t].values())
        un_es = sorted(e for e in st_ind[t] if e not in mapped)
        n = max(len(un_gt), len(un_es))
        alldist = np.full((n, n), INF)
        uid = 0
        for i, o in enumerate(un_gt):
            for j, e in enumerate(un_es):
                d = 1 - _iou(gt_ind[t][o], st_ind[t][e])
                if d <= threshold:
                    alldist[i, j] = d + 1e-9 * uid
                    uid += 1
        if n:
            rows, cols = linear_sum_assignment(alldist)
            for k, j in zip(rows, cols):
                if alldist[k, j] != INF:
                    M[t][un_gt[k]] = un_es[j]
        for ct in M[t]:
            last = next((j for j in range(t - 1, 0, -1) if ct in M[j]), -1)
            if ct in gt_ind[t - 1] and last != -1 and M[t][ct] != M[last][ct]:
                mme += 1
        c += len(M[t])
        fp += len(st_ind[t]) - len(M[t])
        m += len(gt_ind[t]) - len(M[t])
    return {"TP": c, "FP": fp, "FN": m, "IDSW": mme}


def id_measures(gt, pred, threshold=0.5):
    gt_ids, pred_ids = np.unique(gt.ids), np.unique(pred.ids)
    ng, npd = len(gt_ids), len(pred_ids)
    cost = np.zeros((ng + npd, ng + npd))
    cost[ng:, :npd] = INF
    cost[:ng, npd:] = INF
    fp = np.zeros_like(cost)
    fn = np.zeros_like(cost)
    for i, gi in enumerate(gt_ids):
        g = {int(f): b for f, b in zip(gt.frames[gt.ids == gi], gt.boxes[gt.ids == gi])}
        for j, pj in enumerate(pred_ids):
            p = {int(f): b for f, b in zip(pred.frames[pred.ids == pj], pred.boxes[pred.ids == pj])}
            hits = sum(1 for f in g if f in p and _iou(g[f], p[f]) >= threshold)
            fp[i, j], fn[i, j] = len(p) - hits, len(g) - hits
            cost[i, j] = fp[i, j] + fn[i, j]
    for j, pj in enumerate(pred_ids):
        cost[ng + j, j] = fp[ng + j, j] = np.count_nonzero(pred.ids == pj)
    for i, gi in enumerate(gt_ids):
        cost[i, npd + i] = fn[i, npd + i] = np.count_nonzero(gt.ids == gi)
    rows, cols = linear_sum_assignment(cost)
    idfn = int(fn[rows, cols].sum())
    idfp = int(fp[rows, cols].sum())
    return {"IDTP": len(gt) - idfn, "IDFP": idfp, "IDFN": idfn}
