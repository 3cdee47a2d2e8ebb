"""HTTP server: /v1/score and an OpenAI-compatible chat endpoint."""
