"""Where frames come from: Frigate, a watched folder. Plain Python, no Home Assistant imports."""
