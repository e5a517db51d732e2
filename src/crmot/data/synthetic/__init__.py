"""The synthetic multi-view world: crmot's embedded dataset, written in the CRTrack layout."""

from crmot.data.synthetic.config import WorldConfig, load_preset
from crmot.data.synthetic.world import ensure_world, generate, is_current, plan_world

__all__ = ["WorldConfig", "ensure_world", "generate", "is_current", "load_preset", "plan_world"]
