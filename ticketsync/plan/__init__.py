"""The plan: built as a pure function of (tickets, state), saved as a JSON document, and
rendered as text, JSON or Markdown."""
