"""Hooks around a release (issue 26 point 2): the kinds that run them and the stage runner."""
