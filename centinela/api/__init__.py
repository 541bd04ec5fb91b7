"""REST and WebSocket API, auth, metrics and the alarm console."""
