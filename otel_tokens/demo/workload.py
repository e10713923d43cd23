"""Runs one simulated call of a persona with the real SDK clients and acts on its output."""

from __future__ import annotations

import random
from typing import Any

import otel_tokens

from .organisation import Persona, behaviour, sizes

_LOOP_PROMPT = "Check the status page again and summarize it."


class Workload:
    """Makes persona calls against the fake server through instrumented clients."""

    def __init__(self, openai_client: Any, seed: int, anthropic_client: Any = None) -> None:
        self.client = openai_client
        self.anthropic = anthropic_client
        self.seed = seed
        self.refs: list[str] = []  # outcomes recorded "later", as a web app would on the next request

    def run_one(self, persona: Persona, rng: random.Random) -> None:
        size = sizes(rng, persona)
        act = behaviour(rng, persona)
        prompt = _LOOP_PROMPT if persona.loops else f"request {rng.random():.6f} for {persona.task}"
        headers = size.headers()
        with otel_tokens.task(persona.task, team=persona.team):
            result = self._call(persona, prompt, headers)
            if act == "unread":
                if persona.surface.endswith("_stream"):
                    result.close()
                return  # dropped without reading: resolves as unread
            text = self._read(persona, result)
            if act == "used":
                otel_tokens.mark_used(result)
            elif act == "discarded":
                otel_tokens.mark_discarded(result)
            elif act == "ref_used":
                self.refs.append(otel_tokens.outcome_ref(result))
            del text

    def _call(self, persona: Persona, prompt: str, headers: dict[str, str]) -> Any:
        messages = [{"role": "user", "content": prompt}]
        if persona.surface == "chat":
            return self.client.chat.completions.create(
                model=persona.model, messages=messages, extra_headers=headers
            )
        if persona.surface == "chat_stream":
            return self.client.chat.completions.create(
                model=persona.model, messages=messages, stream=True, extra_headers=headers
            )
        if persona.surface == "responses":
            return self.client.responses.create(model=persona.model, input=prompt, extra_headers=headers)
        if persona.surface.startswith("anthropic"):
            return self.anthropic.messages.create(
                model=persona.model,
                max_tokens=1024,
                messages=messages,
                stream=persona.surface == "anthropic_stream",
                extra_headers=_anthropic_headers(headers),
            )
        return self.client.embeddings.create(model=persona.model, input=[prompt], extra_headers=headers)

    def _read(self, persona: Persona, result: Any) -> str:
        if persona.surface == "chat":
            return str(result.choices[0].message.content)
        if persona.surface == "chat_stream":
            return "".join(chunk.choices[0].delta.content or "" for chunk in result if chunk.choices)
        if persona.surface == "responses":
            return str(result.output_text)
        if persona.surface == "anthropic":
            return "".join(block.text for block in result.content if block.type == "text")
        if persona.surface == "anthropic_stream":
            return "".join(
                e.delta.text
                for e in result
                if e.type == "content_block_delta" and e.delta.type == "text_delta"
            )
        return str(len(result.data))

    def record_refs(self) -> int:
        """Record the outcomes that arrived "later" (the reply was sent)."""
        refs, self.refs = self.refs, []
        for ref in refs:
            otel_tokens.record_outcome(ref, "used")
        return len(refs)


def _anthropic_headers(headers: dict[str, str]) -> dict[str, str]:
    # Anthropic's input_tokens exclude cache reads: the fake server takes the uncached count.
    uncached = int(headers["x-fake-input-tokens"]) - int(headers["x-fake-cached-tokens"])
    return {**headers, "x-fake-input-tokens": str(max(uncached, 1))}
