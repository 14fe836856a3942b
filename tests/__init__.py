"""Tests of plate_tracker."""
