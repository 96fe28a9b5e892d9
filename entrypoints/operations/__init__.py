"""The operator's commands: listings, the sweep on demand, post and kick."""
