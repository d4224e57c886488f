"""The operator's time zone, in plain Python (no Django): the engine's rules and `core.clock` share it."""

from zoneinfo import ZoneInfo

# Shandong's local time: local dates, day boundaries and due instants are all read in it.
OPERATOR_TZ = ZoneInfo("Asia/Shanghai")
