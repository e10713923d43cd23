"""A simulated organisation: honest teams whose outputs are mostly used, and a tokenmaxxing one.

Each persona is a (team, task) with an API surface, token sizes and what its people do with
outputs. Everything is drawn from one seeded ``random.Random``, so a seed replays a run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal

Surface = Literal["chat", "chat_stream", "responses", "embeddings", "anthropic", "anthropic_stream"]
Behaviour = Literal["used", "discarded", "unmarked", "unread", "ref_used"]


@dataclass(frozen=True)
class Persona:
    team: str
    task: str
    weight: float
    surface: Surface
    model: str
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    cached_share: float
    reasoning_share: float
    behaviours: tuple[tuple[Behaviour, float], ...]
    # Sends the same prompt again and again (work a cache would have answered).
    loops: bool = False


ORGANISATION: Final = (
    Persona(
        "support",
        "email-triage",
        3,
        "chat",
        "gpt-4o-mini",
        (300, 800),
        (40, 120),
        0.3,
        0.0,
        (("used", 0.86), ("discarded", 0.07), ("unmarked", 0.05), ("unread", 0.02)),
    ),
    Persona(
        "support",
        "reply-drafting",
        2,
        "chat_stream",
        "gpt-4o-mini",
        (400, 900),
        (120, 300),
        0.2,
        0.0,
        (("ref_used", 0.72), ("discarded", 0.18), ("unmarked", 0.07), ("unread", 0.03)),
    ),
    Persona(
        "platform",
        "code-review",
        3,
        "responses",
        "o4-mini",
        (3000, 9000),
        (300, 900),
        0.5,
        0.4,
        (("used", 0.78), ("discarded", 0.15), ("unmarked", 0.07)),
    ),
    Persona(
        "platform",
        "design-review",
        1,
        "anthropic",
        "claude-sonnet-4-6",
        (2000, 6000),
        (300, 800),
        0.5,
        0.0,
        (("used", 0.8), ("discarded", 0.12), ("unmarked", 0.08)),
    ),
    Persona(
        "support",
        "kb-answers",
        1,
        "anthropic_stream",
        "claude-haiku-4-5",
        (500, 1500),
        (100, 300),
        0.3,
        0.0,
        (("used", 0.8), ("discarded", 0.1), ("unmarked", 0.07), ("unread", 0.03)),
    ),
    Persona(
        "platform",
        "doc-search",
        1,
        "embeddings",
        "text-embedding-3-small",
        (200, 600),
        (0, 0),
        0.0,
        0.0,
        (("used", 0.95), ("unread", 0.05)),
    ),
    Persona(
        "growth",
        "summarize-everything",
        4,
        "chat",
        "gpt-4o",
        (5000, 12000),
        (800, 2000),
        0.0,
        0.0,
        (("unread", 0.80), ("discarded", 0.13), ("unmarked", 0.05), ("used", 0.02)),
    ),
    Persona(
        "growth",
        "agent-loop",
        2,
        "chat",
        "gpt-4o",
        (2000, 4000),
        (300, 600),
        0.0,
        0.0,
        (("unread", 0.6), ("discarded", 0.3), ("used", 0.1)),
        loops=True,
    ),
)

TOKENMAXXING_TEAM: Final = "growth"


def pick(rng: random.Random, anthropic: bool = True) -> Persona:
    """A persona by weight; without the anthropic SDK, only the OpenAI ones."""
    people = [p for p in ORGANISATION if anthropic or not p.surface.startswith("anthropic")]
    return rng.choices(people, weights=[p.weight for p in people])[0]


def behaviour(rng: random.Random, persona: Persona) -> Behaviour:
    kinds = [b for b, _ in persona.behaviours]
    return rng.choices(kinds, weights=[w for _, w in persona.behaviours])[0]


@dataclass(frozen=True)
class Sizes:
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int

    def headers(self) -> dict[str, str]:
        return {
            "x-fake-input-tokens": str(self.input_tokens),
            "x-fake-output-tokens": str(self.output_tokens),
            "x-fake-cached-tokens": str(self.cached_tokens),
            "x-fake-reasoning-tokens": str(self.reasoning_tokens),
        }


def sizes(rng: random.Random, persona: Persona) -> Sizes:
    input_tokens = rng.randint(*persona.input_tokens)
    output_tokens = rng.randint(*persona.output_tokens)
    return Sizes(
        input_tokens,
        output_tokens,
        int(input_tokens * persona.cached_share * rng.random()),
        int(output_tokens * persona.reasoning_share),
    )
