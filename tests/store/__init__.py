"""Tests of the sightings store (plain Python, real SQLite files)."""
