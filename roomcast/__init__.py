"""roomcast: real-time rooms on AWS API Gateway WebSocket APIs.

The repository keeps the hexagon's layers at its top (`domain/`, `ports/`, `adapters/`,
`entrypoints/`); this package names them `roomcast.domain`, `roomcast.ports`, ... so that an
installed roomcast takes only its own name in site-packages.
"""
