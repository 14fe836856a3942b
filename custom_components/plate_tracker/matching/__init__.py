"""Watchlist matching, alert cooldown, signed image URLs and vehicle journeys.

Plain Python with no Home Assistant imports and no I/O, so every rule here can
be tested and benchmarked alone; the Home Assistant modules are thin glue.
"""
