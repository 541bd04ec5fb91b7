"""Rule engine runtime: rule sets, per-thing state, windows, timers, alarms, sinks."""
