"""The Ollama test double: a real HTTP server on 127.0.0.1 that behaves like Ollama.

* `OllamaDouble` (tests.ollama_double.server): the server; `start()`/`stop()` or `with`.
* fixtures (tests.ollama_double.fixtures, registered in tests/conftest.py): `ollama_double`
  and `fake_ollama_bin`.
* `python -m tests.ollama_double --port N`: run it standalone until Ctrl-C.
* `write_fake_ollama(directory)` (tests.ollama_double.fake_ollama): a fake `ollama` executable
  whose `serve` starts the double on OLLAMA_HOST.
"""

from tests.ollama_double.server import OllamaDouble, RecordedRequest

__all__ = ["OllamaDouble", "RecordedRequest"]
