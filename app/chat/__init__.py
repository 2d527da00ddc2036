"""Conversations without Qt: the session state machine, context budget, export and import."""
