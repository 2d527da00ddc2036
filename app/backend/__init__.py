"""Ollama and the machine it runs on: client, managed server, catalog, hardware, memory."""
