"""The pure core of roomcast: connections, rooms, policies, protocol and the chat service."""
