"""Constants of the plate_tracker integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "plate_tracker"

CONF_SOURCE: Final = "source"
CONF_FRIGATE_URL: Final = "frigate_url"
CONF_MQTT_PREFIX: Final = "mqtt_prefix"
CONF_INBOX: Final = "inbox"
CONF_FILENAME_PATTERN: Final = "filename_pattern"
CONF_KEEP_FILES: Final = "keep_files"
CONF_ANPR_CAMERA: Final = "camera"
"""The camera an ANPR webhook's reads are of, unless a read names its own."""
CONF_READ_PICTURES: Final = "read_pictures"
"""An ANPR camera's pictures are read by the engine too (else its own read stands)."""
CONF_ALLOW_REMOTE: Final = "allow_remote"
"""An ANPR webhook accepts requests from outside the local network."""
CONF_MIN_CONFIDENCE: Final = "min_confidence"
CONF_PUBLISH_AFTER: Final = "publish_after"
CONF_REGIONS: Final = "regions"
CONF_QUEUE_SIZE: Final = "queue_size"
CONF_THREADS: Final = "threads"
CONF_PARALLEL_READS: Final = "parallel_reads"
"""Frames read at once: engines (each with CONF_THREADS threads) in Home
Assistant, or requests in flight to an engine server."""
CONF_ENGINE_URL: Final = "engine_url"
"""Address of an engine server; empty or missing: plates are read in Home Assistant."""
CONF_ENGINE_TOKEN: Final = "engine_token"  # noqa: S105 - the option's key, not a secret
CONF_REAUTH_SOURCE: Final = "reauth_source"
"""In a re-authentication flow's data: the subentry of the Frigate source whose
login was refused (absent: the engine server refused its token)."""

LOCAL_ENGINE_REQUIREMENTS: Final = ("onnx==1.23.2", "onnxruntime==1.32.0")
"""Installed at setup only when plates are read in Home Assistant: onnxruntime
publishes no wheels for musl (Home Assistant OS and its container), where the
engine server reads them instead. Keep in step with requirements.txt."""

SOURCE_FRIGATE: Final = "frigate"
SOURCE_FOLDER: Final = "folder"
SOURCE_CAMERA: Final = "camera"
"""Snapshots of Home Assistant camera entities, taken by the capture_camera service."""
SOURCE_ANPR: Final = "anpr"
"""A camera that reads plates itself and pushes its reads to a webhook."""

DEFAULT_MQTT_PREFIX: Final = "frigate"
DEFAULT_MIN_CONFIDENCE: Final = 0.5
DEFAULT_PUBLISH_AFTER: Final = 3.0
DEFAULT_QUEUE_SIZE: Final = 32
DEFAULT_THREADS: Final = 2
DEFAULT_PARALLEL_READS: Final = 1
PIPELINE_STOP_SECONDS: Final = 10.0
"""How long an unload waits for the frames already accepted to be read and stored."""
REGIONS: Final = ("ua", "eu", "us", "br")
DEFAULT_REGIONS: Final = ["ua", "eu", "us"]
INBOX_POLL_SECONDS: Final = 2.0

DATABASE_FILE: Final = "plate_tracker.db"
MODELS_DIR: Final = "models"

EVENT_SIGHTING: Final = "plate_tracker_sighting"
EVENT_TYPE_PLATE_READ: Final = "plate_read"

SIGNAL_SIGHTING: Final = f"{DOMAIN}_sighting_{{entry_id}}"
SIGNAL_SIGHTINGS_REMOVED: Final = f"{DOMAIN}_sightings_removed_{{entry_id}}"
"""Sent once a purge erased sightings: what entities show may be gone from the store."""
SIGNAL_NEW_CAMERA: Final = f"{DOMAIN}_new_camera_{{entry_id}}"
SIGNAL_COUNTERS: Final = f"{DOMAIN}_counters_{{entry_id}}"
SIGNAL_SOURCE_HEALTH: Final = f"{DOMAIN}_source_health_{{entry_id}}"
SIGNAL_ENGINE_HEALTH: Final = f"{DOMAIN}_engine_health_{{entry_id}}"

ISSUE_MODELS_UNAVAILABLE: Final = "models_unavailable"
ISSUE_LOCAL_ENGINE_UNSUPPORTED: Final = "local_engine_unsupported"
ISSUE_ENGINE_SERVER_UNAVAILABLE: Final = "engine_server_unavailable"
ISSUE_FRIGATE_UNAVAILABLE: Final = "frigate_unavailable_{subentry_id}"
ISSUE_MQTT_DISCONNECTED: Final = "mqtt_disconnected"
ISSUE_INBOX_UNAVAILABLE: Final = "inbox_unavailable_{subentry_id}"
ISSUE_SOURCES_OVERLAP: Final = "sources_overlap_{first}_{second}"
ISSUE_SIGHTINGS_SPOOLED: Final = "sightings_spooled"
ISSUE_SIGHTINGS_SPOOLED_IN_MEMORY: Final = "sightings_spooled_in_memory"
ISSUE_DATABASE_DAMAGED: Final = "database_damaged_{damaged}"
"""The same issue's text while the spool file cannot be written either."""
SPOOL_FILE: Final = "plate_tracker.spool.jsonl"
FRIGATE_PROBE_SECONDS: Final = 60
SUBENTRY_SOURCE: Final = "source"
EVENT_WATCHLIST_HIT: Final = "plate_tracker_watchlist_hit"
EVENT_TYPE_WATCHLIST_HIT: Final = "watchlist_hit"
SIGNAL_WATCHLIST_HIT: Final = f"{DOMAIN}_watchlist_hit_{{entry_id}}"
SIGNAL_WATCHLIST_CHANGED: Final = f"{DOMAIN}_watchlist_changed_{{entry_id}}"
IMAGE_URL_PATH: Final = "/api/plate_tracker/sightings/{sighting_id}/{kind}.jpg"

CONF_ALERT_COOLDOWN: Final = "alert_cooldown"
CONF_URL_LIFETIME_HOURS: Final = "url_lifetime_hours"
DEFAULT_ALERT_COOLDOWN: Final = 300
DEFAULT_URL_LIFETIME_HOURS: Final = 72

CONF_KEEP_DAYS: Final = "keep_days"
CONF_KEEP_HIT_DAYS: Final = "keep_hit_days"
CONF_KEEP_IMAGE_DAYS: Final = "keep_image_days"
DEFAULT_KEEP_DAYS: Final = 30
DEFAULT_KEEP_HIT_DAYS: Final = 365
RETENTION_HOUR: Final = 3
RETENTION_MINUTE: Final = 17
