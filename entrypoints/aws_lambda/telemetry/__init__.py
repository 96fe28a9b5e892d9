"""What each invocation reports: one log line, EMF metrics, and the deliveries it made."""
