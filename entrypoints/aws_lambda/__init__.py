"""The Lambda way in: handlers, the `$connect` authorizer, event parsing and telemetry."""
