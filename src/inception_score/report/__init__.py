"""The HTML report: a leaf that reads results (it is never imported by the layers below)."""

from .html import read_class_names, render_report, save_report

__all__ = ["read_class_names", "render_report", "save_report"]
