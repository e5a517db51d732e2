"""Stage 0: class-agnostic mask pretraining of SAM2 nano on a separate synthetic world (``crmot pretrain``)."""
