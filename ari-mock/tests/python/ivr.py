#!/usr/bin/env python3
"""A tiny ARI application written without ari-sdk (and without any ARI library): REST with
urllib, the events WebSocket over a raw TCP socket (Python's standard library only).

It registers a Stasis application, originates Local/dtmf-1@default into it, answers, plays
sound:beep, waits for the far end's key 1, hangs up, and checks the events it saw.

usage: ivr.py BASE_URL USER PASSWORD     (e.g. http://127.0.0.1:8088/ari asterisk asterisk)
Prints the event types it saw and exits 0 when the call went as expected.
"""

import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, USER, PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
APP = "py-ivr-" + os.urandom(6).hex()


def rest(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method)
    req.add_header("Authorization", AUTH)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data=data, timeout=10) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


class Events:
    """The events WebSocket: handshake and unmasked server frames, by hand."""

    def __init__(self):
        url = urllib.parse.urlsplit(BASE)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        path = f"{url.path}/events?app={APP}"
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: {AUTH}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        status = head.split(b" ")[1]
        if status != b"101":
            raise SystemExit(f"events WebSocket refused: {head.decode(errors='replace')}")
        self.seen = []

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise SystemExit("events WebSocket closed")
            out += chunk
        return out

    def next(self):
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            payload = self._exact(n)
            if b0 & 0x0F == 1:
                event = json.loads(payload)
                self.seen.append(event["type"])
                return event
            if b0 & 0x0F == 8:
                raise SystemExit("events WebSocket closed by the server")

    def wait(self, kind, pred=lambda e: True):
        deadline = time.time() + 15
        while time.time() < deadline:
            e = self.next()
            if e["type"] == kind and pred(e):
                return e
        raise SystemExit(f"no {kind}; saw {self.seen}")


def main():
    events = Events()
    chan = "py-chan-" + os.urandom(6).hex()
    status, body = rest("POST", f"/channels?endpoint=Local/dtmf-1@default&app={APP}&channelId={chan}")
    assert status == 200 and body["id"] == chan, (status, body)
    start = events.wait("StasisStart", lambda e: e["channel"]["id"] == chan)
    assert start["application"] == APP
    assert rest("POST", f"/channels/{chan}/answer")[0] == 204
    status, pb = rest("POST", f"/channels/{chan}/play?media=sound:beep")
    assert status == 201, (status, pb)
    events.wait("PlaybackFinished", lambda e: e["playback"]["id"] == pb["id"])
    key = events.wait("ChannelDtmfReceived", lambda e: e["channel"]["id"] == chan)
    assert key["digit"] == "1", key
    status, var = rest("GET", f"/channels/{chan}/variable?variable=CALLERID(num)")
    assert status == 200 and "value" in var, (status, var)
    assert rest("DELETE", f"/channels/{chan}")[0] == 204
    gone = events.wait("ChannelDestroyed", lambda e: e["channel"]["id"] == chan)
    assert gone["cause"] == 16 and gone["cause_txt"] == "Normal Clearing", gone
    assert rest("GET", f"/channels/{chan}")[0] == 404
    print("events:", " ".join(t for t in events.seen if t not in ("ChannelVarset", "ChannelDialplan")))
    print("OK")


main()
