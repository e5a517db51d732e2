"""A run's visual report: tables, bar charts and mosaic videos in one static HTML folder."""

from crmot.report.build import build_report

__all__ = ["build_report"]
