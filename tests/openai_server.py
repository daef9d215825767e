"""A loopback HTTP server speaking OpenAI's images API contract, scripted per request.

It follows the public OpenAPI excerpt in ../shared/data/openai-images-api: POST
/v1/images/generations with a CreateImageRequest JSON body → ImagesResponse (created, data[]
with b64_json or url, usage for GPT image models), and the {"error": {code, message, param,
type}} envelope for failures. Each request pops the next scripted behaviour.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


def _png(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), shade, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _error(code: str | None, message: str, type_: str) -> dict:
    return {"error": {"code": code, "message": message, "param": None, "type": type_}}


POLICY = _error(
    "content_policy_violation", "Your request was rejected as a result of our safety system.", "invalid_request_error"
)
RATE = _error(
    "rate_limit_exceeded",
    "Rate limit exceeded for images per minute in organization org-XXXX. Limit: 1/1min.",
    "requests",
)
SERVER = _error(None, "The server had an error while processing your request.", "server_error")


class FakeImagesAPI:
    def __init__(self) -> None:
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.counter = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, payload: dict | bytes, extra: dict | None = None) -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "image/png" if isinstance(payload, bytes) else "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                name = self.path.rsplit("/", 1)[-1]
                if name in api.files:
                    self._send(200, api.files[name])
                else:
                    self._send(404, _error(None, "not found", "invalid_request_error"))

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append(body)
                api.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path != "/v1/images/generations":
                    return self._send(404, _error(None, f"unknown path {self.path}", "invalid_request_error"))
                if not self.headers.get("Authorization", "").startswith("Bearer "):
                    return self._send(401, _error("invalid_api_key", "missing key", "invalid_request_error"))
                if "prompt" not in body:
                    return self._send(400, _error(None, "prompt is required", "invalid_request_error"))
                action = api.script.pop(0) if api.script else "ok"
                if action == "429":
                    return self._send(429, RATE, {"retry-after": "0"})
                if action == "500":
                    return self._send(500, SERVER)
                if action == "400-policy":
                    return self._send(400, POLICY)
                if action == "slow":
                    time.sleep(2.0)
                api.counter += 1
                image = _png(40 + api.counter)
                model = body.get("model", "dall-e-2")
                if body.get("response_format") == "url":
                    name = f"img{api.counter}.png"
                    api.files[name] = image
                    item = {"url": f"http://127.0.0.1:{api.port}/files/{name}"}
                else:
                    item = {"b64_json": base64.b64encode(image).decode()}
                if model == "dall-e-3":
                    item["revised_prompt"] = "A detailed " + body["prompt"]
                payload = {"created": int(time.time()), "data": [item]}
                if model.startswith("gpt-image"):
                    payload["usage"] = {
                        "input_tokens": 20,
                        "output_tokens": 272,
                        "total_tokens": 292,
                        "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
                        "output_tokens_details": {"image_tokens": 272, "text_tokens": 0},
                    }
                    payload.update(
                        {
                            "size": body.get("size", "1024x1024"),
                            "quality": body.get("quality", "low"),
                            "output_format": "png",
                        }
                    )
                return self._send(200, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeImagesAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
