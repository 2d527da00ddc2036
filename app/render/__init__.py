"""Markdown, code and math rendering of model answers, including the streaming renderer."""
