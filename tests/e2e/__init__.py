"""End-to-end tests: real processes (mosquitto, hass) talking over real sockets."""
