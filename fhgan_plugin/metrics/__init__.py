"""Metrics: the verification protocol (registered BasicSR metrics come with the models)."""
