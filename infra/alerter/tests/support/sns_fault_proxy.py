#!/usr/bin/env python3
"""An SNS endpoint stand-in for tests: forwards every request to moto_server, except that it answers
`Publish` calls for one message-attribute key with SNS's throttling error (HTTP 400, code `Throttling`).

Throttling is the realistic transient failure for a single alert: moto never throttles, and making the
whole topic fail would not show that only that record is retried. The proxy counts the throttled
attempts, so a test can also see the SDK's own retries.

    sns_fault_proxy.py --upstream http://127.0.0.1:PORT --throttle-key user-throttled [--port 0]

Prints `listening on 127.0.0.1:PORT` once it accepts connections. `GET /__fault_proxy/stats` returns
{"throttled": N, "forwarded": M}. Listens on loopback only.
"""

import argparse
import json
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THROTTLED = b"""<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"""

# Hop-by-hop headers and those urllib sets itself are not copied.
SKIP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


def attribute_values(form, name):
    """The StringValues of the message attributes called `name` in a query-protocol Publish form."""
    values = []
    for field, names in form.items():
        if field.startswith("MessageAttributes.entry.") and field.endswith(".Name") and name in names:
            prefix = field[: -len(".Name")]
            values.extend(form.get(prefix + ".Value.StringValue", []))
    return values


def make_handler(upstream, throttle_key, stats, lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep test output quiet
            pass

        def reply(self, status, body, content_type="text/xml"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/__fault_proxy/stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.reply(200, body, "application/json")
            else:
                self.forward(b"")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            if form.get("Action") == ["Publish"] and throttle_key in attribute_values(form, "key"):
                with lock:
                    stats["throttled"] += 1
                self.reply(400, THROTTLED)
                return
            self.forward(body)

        def forward(self, body):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in SKIP_HEADERS}
            request = urllib.request.Request(upstream + self.path, data=body or None, headers=headers, method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, content, content_type = response.status, response.read(), response.headers.get("Content-Type", "text/xml")
            except urllib.error.HTTPError as error:
                status, content, content_type = error.code, error.read(), error.headers.get("Content-Type", "text/xml")
            with lock:
                stats["forwarded"] += 1
            self.reply(status, content, content_type)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="moto_server base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--throttle-key", required=True, help="throttle Publish calls whose `key` attribute equals this")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 = any free port)")
    args = parser.parse_args()

    stats, lock = {"throttled": 0, "forwarded": 0}, threading.Lock()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream.rstrip("/"), args.throttle_key, stats, lock))
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
