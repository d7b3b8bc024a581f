"""QueueIT backend: a party music queue served over REST and WebSocket."""

__version__ = "1.0.0"
