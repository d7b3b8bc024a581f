"""The HTTP edge: problem+json errors, request ids, body limits, JSON rendering, rate limits."""
