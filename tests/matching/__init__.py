"""Tests of the plain-Python matching and journey logic (no Home Assistant instance)."""
