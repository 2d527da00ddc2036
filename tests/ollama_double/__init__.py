"""The Ollama test double: a real HTTP server on 127.0.0.1 that behaves like Ollama."""
