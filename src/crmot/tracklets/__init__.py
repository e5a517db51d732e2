"""Stage 1 logic: per-view tracklets of every object of a category (Lightning wiring in crmot.stages)."""
