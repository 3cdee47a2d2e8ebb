"""Reasoners: the shared query contract, the compact default model, readers built on other readers (ensembles,
the scene gate, the reasoning check, the goal contrast), any OpenAI-compatible endpoint (`api:URL`) and a local
transformers vision-language model (`hf:PATH`)."""
