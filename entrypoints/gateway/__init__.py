"""`roomcast serve`: a local API Gateway WebSocket gateway that runs the template's handlers."""
