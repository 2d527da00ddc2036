"""PhiDesk: a desktop assistant for the Microsoft Phi-4 model family on Ollama."""

__version__ = "0.1.0"

MIN_PYTHON = (3, 12)
