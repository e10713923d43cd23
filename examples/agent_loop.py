"""A task-run agent loop: drop each step's response, judge the whole run at the end.

The run has an opt-in budget: a step that the run can no longer afford raises
otel_tokens.BudgetExceeded before any request is sent.

    OPENAI_API_KEY=... python examples/agent_loop.py
"""

import openai

import otel_tokens

handle = otel_tokens.init(service_name="agent")
client = openai.OpenAI()

with otel_tokens.task("research-agent", team="platform", max_calls=5) as run:
    notes = []
    try:
        for step in range(10):
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"step {step}: what next?"}]
            )
            notes.append(reply.choices[0].message.content)  # read; no verdict per step
    except otel_tokens.BudgetExceeded as stop:
        print("stopped:", stop)
    print(f"{len(notes)} steps")
    run.mark_used()  # the run's result was shipped: every step it read counts as used

handle.shutdown()
