"""Hugging Face language models as people hold them: transformers' KV caches as named
tensors (``cache.py``)."""
