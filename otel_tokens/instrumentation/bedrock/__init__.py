"""AWS Bedrock instrumentation through botocore: ``BedrockInstrumentor().instrument()`` or the
``otel_tokens_bedrock`` entry point.

botocore generates every client method at runtime and sends them all through
``BaseClient._make_api_call``; that one method is patched (when ``botocore.client`` is
imported), and only bedrock-runtime's ``converse``, ``converse_stream``, ``invoke_model`` and
``invoke_model_with_response_stream`` are recorded (see :mod:`.calls`).
"""

from __future__ import annotations

from typing import Final

from .._base import LLMInstrumentor, WrapperFactory
from .._provider import Endpoint, Library
from .calls import OPERATIONS, make_api_call_wrapper

LIBRARY: Final = Library(
    name="bedrock",
    # bedrock-runtime (InvokeModel) arrived in botocore 1.31.57, Converse in 1.34.116.
    requirement="botocore >= 1.31.57",
    # One per operation; all four are methods of botocore's one dispatching method.
    endpoints=tuple(operation.endpoint for operation in OPERATIONS.values()),
    content_attributes=frozenset(),
    package="botocore",
)


class BedrockInstrumentor(LLMInstrumentor):
    """Instruments AWS Bedrock Runtime calls made with botocore / boto3: Converse and
    ConverseStream, InvokeModel and InvokeModelWithResponseStream (usage from the
    ``x-amzn-bedrock-*-token-count`` headers, else from Anthropic, Titan or Nova bodies).
    Input tokens include cache reads and writes. Other AWS calls pass through untouched.

    Example::

        BedrockInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY

    def patches(self) -> list[tuple[Endpoint, WrapperFactory]]:
        # The endpoints share one method: patch it once, with a wrapper that dispatches.
        return [(LIBRARY.endpoints[0], lambda: make_api_call_wrapper)]


__all__ = ["LIBRARY", "BedrockInstrumentor"]
