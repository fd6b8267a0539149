"""Governance: which policies select a pipeline and what they find wrong with it."""
