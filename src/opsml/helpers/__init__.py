"""Helpers for examples and users' tests."""
