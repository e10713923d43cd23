"""A real boto3 ``bedrock-runtime`` client on the fake server, and what its calls send, for the
Bedrock tests (``tests/test_bedrock.py``, ``tests/test_bedrock_streams.py``; the ``bedrock``
fixture of ``conftest.py``).

Every call sends ``x-fake-input-tokens: 20`` (Bedrock's *uncached* input), 5 cache-read,
7 cache-write and 10 output tokens: GenAI input is 20 + 5 + 7 = 32.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from helpers_providers import CACHE_HEADERS

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
HEADERS = CACHE_HEADERS
TOTAL = 42  # 32 input + 10 output
MESSAGES = [{"role": "user", "content": [{"text": "hello"}]}]
ANTHROPIC_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
)


class Bedrock:
    """A real boto3 ``bedrock-runtime`` client on the fake server (dummy credentials, no retries).

    ``headers`` go with every request (the fake's ``x-fake-*`` controls). ``token_headers`` are
    added to InvokeModel responses before botocore parses them: they stand in for Bedrock's
    ``x-amzn-bedrock-*-token-count`` headers, which the fake server cannot send yet."""

    def __init__(self, url: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        self.client = session.client(
            "bedrock-runtime", endpoint_url=url, config=Config(retries={"total_max_attempts": 1})
        )
        self.headers: dict[str, str] = {}
        self.token_headers: dict[str, str] = {}
        self.client.meta.events.register("before-sign.bedrock-runtime.*", self._send_headers)
        self.client.meta.events.register("before-parse.bedrock-runtime.InvokeModel", self._token_headers)

    def reset(self) -> Bedrock:
        self.headers = dict(HEADERS)
        self.token_headers = {}
        return self

    def _send_headers(self, request: Any, **_: Any) -> None:
        for key, value in self.headers.items():
            request.headers[key] = value

    def _token_headers(self, response_dict: Any, **_: Any) -> None:
        if response_dict["status_code"] < 300:
            for key, value in self.token_headers.items():
                response_dict["headers"][key] = value

    def converse(self, model: str = MODEL, **params: Any) -> Any:
        return self.client.converse(modelId=model, messages=MESSAGES, **params)

    def invoke(self, model: str = MODEL, body: str = ANTHROPIC_BODY) -> Any:
        return self.client.invoke_model(modelId=model, body=body)

    def run(self, call: Callable[[Bedrock], Any]) -> Callable[[dict[str, str]], Any]:
        """``run(headers)``: ``call(self)`` with ``headers`` sent too (for ``check_faults_never_break``)."""

        def run(headers: dict[str, str]) -> Any:
            self.headers.update(headers)
            try:
                return call(self)
            finally:
                for key in headers:
                    del self.headers[key]

        return run
