"""Tests of the recognition engine (plain pytest, no Home Assistant)."""
