"""One metered gateway on 127.0.0.1 for all model traffic of a batch.

Agents (mini-swe-agent, SWE-agent) are pointed at `http://127.0.0.1:PORT/a/<token>/v1`
with a dummy key; the token names the attempt. The gateway is the one place that sees every
call, whatever the runner:

- it records per call the provider-reported usage (numbers only: `prompt_tokens`,
  `completion_tokens`, a validated `usage.cost`), status, latency and retries, into the
  attempt's `calls.jsonl`;
- it asks the ledger *before* each upstream call, holding the call's worst-case cost until
  the call settles (parallel calls cannot overshoot a dollar cap together), and refuses with a
  429 of type `budget_exhausted` when a quota or cap is spent; a provider's own quota answer
  (HTTP 402, Chutes) stops the batch the same way;
- it retries 429 and 5xx with exponential backoff honouring `Retry-After`, bounded, and never
  past the attempt's deadline;
- it holds the real keys, so agents' configs, logs and trajectories never see them: every
  upstream body is redacted of them before anyone reads it, and no upstream header is passed on.

Why a hostile upstream is assumed: the provider's reply is the one input sweboard does not
control. A reply may echo the key, be huge, truncated or not JSON, carry absurd usage numbers
or never come. Each oddity becomes a recorded 4xx/5xx with a JSON error, never a traceback, a
leak, a NaN in the ledger, or a call that outlives its attempt: `unregister` ends a route's
in-flight calls and retries and returns only when their records are written.

Why not LiteLLM's proxy: its budgets need a database and its spend is computed from
litellm's price map, not the provider's word; per-attempt attribution would need virtual
keys per attempt. A few hundred lines of stdlib keep the numbers exact and the pipeline thin.
Only non-streaming chat completions are supported (the agents used here do not stream).
"""

from sweboard.gateway.accounting import (Account, Upstream, account, call_bound, cap_output, cost_of, list_cost,
                                         number, provenance, read_usage, scrub_reply, token_counts)
from sweboard.gateway.calls import read_calls, summarize_calls
from sweboard.gateway.exchange import RETRYABLE
from sweboard.gateway.route import ProbeGate, RetryPolicy, Route
from sweboard.gateway.server import HOST, Gateway
from sweboard.gateway.validate import MAX_REQUEST_BYTES

__all__ = ["Account", "Gateway", "HOST", "MAX_REQUEST_BYTES", "ProbeGate", "RETRYABLE", "RetryPolicy", "Route",
           "Upstream", "account", "call_bound", "cap_output", "cost_of", "list_cost", "number", "provenance",
           "read_calls", "read_usage", "scrub_reply", "summarize_calls", "token_counts"]
