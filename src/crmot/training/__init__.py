"""Stage 3 support: clips of pseudo (or GT) labels, ViewSAM losses, resumable sampling, inference."""
