"""One module per pipeline stage: its LightningModule, LightningDataModule and writer.

Stages talk only through files on disk; a stage never imports another stage's module.
"""
