"""botocore ``bedrock-runtime`` -> neutral records: requests, Converse / ConverseStream responses,
and the token counts Bedrock puts in InvokeModel's HTTP headers.

Duck-typed on botocore's plain dicts (no import of botocore here). Bedrock reports input tokens
*without* cache reads and writes (Converse ``usage.inputTokens``, the
``x-amzn-bedrock-input-token-count`` header; ``totalTokens`` = input + output + cache read +
cache write); the OTel GenAI conventions count them in, so :func:`bedrock_usage` sums the
three. Should a response's ``totalTokens`` show the cache already inside ``inputTokens``, it
is not added twice. Bedrock reports no reasoning count.
"""

from __future__ import annotations

from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, request_attributes, url_server

PROVIDER: Final = "aws.bedrock"
SERVICE: Final = "bedrock-runtime"
_INFERENCE_CONFIG: Final = (
    ("maxTokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("topP", n.GEN_AI_REQUEST_TOP_P),
    ("stopSequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
)
_HEADER_INPUT: Final = "x-amzn-bedrock-input-token-count"
_HEADER_OUTPUT: Final = "x-amzn-bedrock-output-token-count"
_HEADER_CACHE_READ: Final = "x-amzn-bedrock-cache-read-input-token-count"
_HEADER_CACHE_WRITE: Final = "x-amzn-bedrock-cache-write-input-token-count"


def server_of(client: Any) -> tuple[str | None, int | None]:
    """(host, port) of a botocore client's ``meta.endpoint_url``."""
    return url_server(str(getattr(getattr(client, "meta", None), "endpoint_url", "") or ""))


def model_name(model_id: str | None) -> str | None:
    """The model an ARN names, so it can be priced and labelled without the account id; None for
    a plain model id (the request model stays).

    Example::

        model_name("arn:aws:bedrock:us-east-1:123:inference-profile/us.amazon.nova-lite-v1:0")
        # "us.amazon.nova-lite-v1:0"
    """
    if model_id and model_id.startswith("arn:") and "/" in model_id:
        return model_id.rsplit("/", 1)[1]
    return None


def bedrock_request(instance: Any, params: dict[str, Any], operation: str, stream: bool) -> Request:
    """The part every Bedrock request shares: provider, model id, server."""
    host, port = server_of(instance)
    model = params.get("modelId")
    return Request(
        provider=PROVIDER,
        operation=operation,
        model=str(model) if model else None,
        stream=stream,
        server_address=host,
        server_port=port,
    )


def read_converse_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``Converse`` / ``ConverseStream``: ``args`` are ``_make_api_call``'s (operation, params)."""
    operation_name, params = args[0], args[1]
    request = bedrock_request(instance, params, "chat", operation_name == "ConverseStream")
    config = params.get("inferenceConfig")
    if isinstance(config, dict):
        request.attributes = request_attributes(config, _INFERENCE_CONFIG)
    output = params.get("outputConfig")
    structured = isinstance(output, dict) and output.get("textFormat") is not None
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = "json" if structured else "text"
    request.input_messages = params.get("messages")
    return request, kwargs


# --- usage ----------------------------------------------------------------------------------------
def bedrock_usage(uncached: Any, cache_read: Any, cache_write: Any, output: Any, total: Any = None) -> Usage:
    """Bedrock counts in GenAI semantics: input = uncached + cache read + cache write.

    Example::

        bedrock_usage(20, 5, 7, 10).input_tokens  # 32
    """
    given, read, write, out = as_int(uncached), as_int(cache_read), as_int(cache_write), as_int(output)
    inclusive = (read or write) and total is not None and as_int(total) == given + out
    return Usage(
        input_tokens=given if inclusive else given + read + write,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def converse_usage(usage: Any) -> Usage | None:
    """A Converse ``usage`` (or ConverseStream ``metadata.usage``) dict; None when absent."""
    if not isinstance(usage, dict):
        return None
    return bedrock_usage(
        usage.get("inputTokens"),
        usage.get("cacheReadInputTokens"),
        usage.get("cacheWriteInputTokens"),
        usage.get("outputTokens"),
        usage.get("totalTokens"),
    )


def _count(value: Any) -> int:
    try:
        return as_int(int(value))
    except (TypeError, ValueError):
        return 0


def header_usage(result: Any) -> Usage | None:
    """InvokeModel's ``x-amzn-bedrock-*-token-count`` response headers (botocore lower-cases
    them), so the body the caller must read once stays untouched; None without them."""
    headers = result.get("ResponseMetadata", {}).get("HTTPHeaders") if isinstance(result, dict) else None
    if not isinstance(headers, dict) or _HEADER_INPUT not in headers:
        return None
    return bedrock_usage(
        _count(headers.get(_HEADER_INPUT)),
        _count(headers.get(_HEADER_CACHE_READ)),
        _count(headers.get(_HEADER_CACHE_WRITE)),
        _count(headers.get(_HEADER_OUTPUT)),
    )


# --- Converse responses ---------------------------------------------------------------------------
def _block(block: Any) -> Any:
    if not isinstance(block, dict):
        return None
    if "text" in block:
        return block["text"]
    tool = block.get("toolUse")
    if isinstance(tool, dict):
        return {"type": "tool_use", "name": tool.get("name"), "input": tool.get("input")}
    return {"type": next(iter(block), None)}


def read_converse(result: Any) -> Response:
    """A Converse response dict: stop reason, usage and (for content capture) the output blocks."""
    stop_reason = result.get("stopReason")
    message = (result.get("output") or {}).get("message") or {}
    return Response(
        finish_reasons=(str(stop_reason),) if stop_reason else (),
        usage=converse_usage(result.get("usage")),
        output_messages=lambda: [_block(b) for b in message.get("content") or ()],
    )


class ConverseStreamState:
    """ConverseStream events: ``messageStop`` brings the stop reason, ``metadata`` the usage."""

    __slots__ = ("model", "stop_reason", "usage")

    def __init__(self, request: Request) -> None:
        self.model = model_name(request.model)
        self.stop_reason: str | None = None
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        metadata = chunk.get("metadata")
        if metadata is not None:
            self.usage = metadata.get("usage")
            return
        stop = chunk.get("messageStop")
        if stop is not None and stop.get("stopReason"):
            self.stop_reason = str(stop["stopReason"])

    def response(self) -> Response:
        return Response(
            model=self.model,
            finish_reasons=(self.stop_reason,) if self.stop_reason else (),
            usage=converse_usage(self.usage),
        )
