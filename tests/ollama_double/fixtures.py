"""pytest fixtures that start the Ollama test double (registered in tests/conftest.py)."""
