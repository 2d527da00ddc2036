"""An OpenAI-compatible server for tests (see `server.py`), and its pytest fixture."""
