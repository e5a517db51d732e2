"""How a checkpoint's state dict differs from a model's: one wording for every loader."""

from __future__ import annotations

from collections.abc import Mapping


def mismatch(expected: Mapping[str, tuple], found: Mapping[str, tuple]) -> str | None:
    """None when both have the same keys with the same shapes, else the keys that differ (a few each)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    if not (missing or unexpected or reshaped):
        return None
    short = lambda keys: f"{keys[:6]}{'...' if len(keys) > 6 else ''}"  # noqa: E731
    return f"missing {short(missing)}, unexpected {short(unexpected)}, shape differs {short(reshaped)}"
