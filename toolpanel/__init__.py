"""toolpanel: an AI-panel review pipeline for newly launched tools."""

__version__ = "0.1.0"
