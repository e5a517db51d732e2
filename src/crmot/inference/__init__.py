"""Stage 4: ViewSAM predicts every expression of a scene; per-view tracking and cross-view fusion of
its candidates give one identity per object across views, output where pooled evidence says referred."""
