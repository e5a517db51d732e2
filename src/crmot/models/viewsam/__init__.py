"""ViewSAM (stage 3): a frozen SAM2 with view-conditioned cross-modal semantics; see :mod:`.model`."""

from crmot.models.viewsam.heads import IDENTITY_DIM, Prompts
from crmot.models.viewsam.model import NO_MASK_LOGIT, SIZES, Encoded, ImageFeatures, Text, ViewSAM, normalised_prompts

__all__ = ["IDENTITY_DIM", "NO_MASK_LOGIT", "SIZES", "Encoded", "ImageFeatures", "Prompts", "Text", "ViewSAM",
           "normalised_prompts"]
