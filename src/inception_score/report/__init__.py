"""The HTML report: a leaf that reads results (it is never imported by the layers below)."""

from .html import check_report_path, read_class_names, render_report, save_report

__all__ = ["check_report_path", "read_class_names", "render_report", "save_report"]
