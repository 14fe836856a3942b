"""Tests of the sources (plain Python)."""
