"""Outcome marking in a web app: the draft is made in one request, accepted in a later one.

POST /draft returns the model's draft and an outcome ref; POST /accept with that ref records
the outcome ("used"), possibly much later and in another worker process (set the same
OTEL_TOKENS_OUTCOME_KEY everywhere). The script starts the app and plays one user.

    OPENAI_API_KEY=... OTEL_TOKENS_OUTCOME_KEY=change-me python examples/web_handler_refs.py
"""

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai

import otel_tokens

handle = otel_tokens.init(service_name="support-web")
client = openai.OpenAI()


class App(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path == "/draft":
            with otel_tokens.task("reply-drafting", team="support"):
                reply = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": body["ticket"]}]
                )
                answer = {"draft": reply.choices[0].message.content, "ref": otel_tokens.outcome_ref(reply)}
        elif self.path == "/accept":
            otel_tokens.record_outcome(body["ref"], "used" if body["accepted"] else "discarded")
            answer = {"recorded": True}
        else:
            self.send_error(404)
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def post(url, payload):
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


server = ThreadingHTTPServer(("127.0.0.1", 0), App)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_port}"
draft = post(base + "/draft", {"ticket": "My invoice is wrong"})
print("draft:", draft["draft"])
print("accepted:", post(base + "/accept", {"ref": draft["ref"], "accepted": True}))
server.shutdown()
handle.shutdown()
