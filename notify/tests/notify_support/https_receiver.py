"""An HTTPS webhook receiver that requires HTTP basic authentication (Python's http.server
over OpenSSL: a TLS stack other than ours).

Usage: https_receiver.py PORT CERT KEY USER PASSWORD LOG. Answers 401 without the right
credentials and 200 otherwise, appending each accepted request to LOG as one JSON line
{"path", "event_id", "body"}; runs until killed.
"""
import base64
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, cert, key, user, password, log = sys.argv[1:7]
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="patrol-test"')
            self.send_header("Content-Length", "12")
            self.end_headers()
            self.wfile.write(b"who are you?")
            return
        with open(log, "a") as f:
            f.write(json.dumps({
                "path": self.path,
                "event_id": self.headers.get("X-Patrol-Event-Id"),
                "body": body.decode(),
            }) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
