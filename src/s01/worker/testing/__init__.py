"""Helpers for tests and local development."""
