"""Stage 2: cross-view association of per-view tracklets, re-prompting, and language pseudo labels.

``records`` (tracklets as records), ``appearance`` (crops, per-view colour normalisation, embedders),
``geometry`` (ground plane), ``affinity``, ``clustering`` (constrained, cross-view), ``reprompt``,
``attributes`` / ``describe`` / ``matcher`` (language), ``pipeline`` (one scene end to end),
``labels`` (the pseudo label root and its quality).
"""
