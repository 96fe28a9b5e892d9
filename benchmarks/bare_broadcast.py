"""The baseline: a bare aiohttp broadcast server speaking roomcast's protocol, nothing more.

`python -m benchmarks.bare_broadcast` prints `listening on PORT` and serves until killed.
"""

import json
import socket as sockets
import time

from aiohttp import WSMsgType, web

rooms: dict[str, dict[web.WebSocketResponse, str]] = {}


def frame(**fields: object) -> str:
    return json.dumps({**fields, "timestamp": time.time_ns() // 1_000_000})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    user, room = request.query.get("userId", "anonymous"), ""
    async for message in socket:
        if message.type is not WSMsgType.TEXT:
            continue
        data = json.loads(message.data)
        if data.get("action") == "joinRoom":
            room = data["roomId"]
            members = rooms.setdefault(room, {})
            announcement = frame(action="userJoined", roomId=room, userId=user)
            for other in list(members):
                await other.send_str(announcement)
            members[socket] = user
            joined = frame(action="joinedRoom", roomId=room, members=[*members.values()])
            await socket.send_str(joined)
        elif data.get("action") == "sendMessage" and room:
            out = frame(action="message", roomId=room, message=data["message"], sender=user)
            for member in list(rooms[room]):
                await member.send_str(out)
    rooms.get(room, {}).pop(socket, None)
    return socket


def main() -> None:
    app = web.Application()
    app.router.add_get("/{stage}", websocket)
    listener = sockets.create_server(("127.0.0.1", 0), backlog=1024)
    print(f"listening on {listener.getsockname()[1]}", flush=True)
    web.run_app(app, sock=listener, print=None, access_log=None)


if __name__ == "__main__":
    main()
