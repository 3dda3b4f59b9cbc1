"""Editorial control: editors' decisions on top of the model's links, the review queue, editor tokens.

Decisions are keyed by the question's source article and its wording key (normalize_question), never
by computed rows, so re-ingest, relinking and re-encoding cannot touch them.
"""
