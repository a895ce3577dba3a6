"""The greedy loop every generation kind shares, with end of sequence handled as
transformers' ``generate`` handles it: a row that produced an ``eos`` id gets ``pad`` from
then on, and decoding stops when every row has ended or after ``max_new_tokens``. The kinds
differ only in how they compute the next position's logits (``next_logits``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

NextLogits = Callable[[Optional[np.ndarray]], np.ndarray]  # the tokens chosen last (None first) -> [batch, vocab]


@dataclass(frozen=True)
class TokenIds:
    eos: tuple = ()  # every id that ends a row (may be empty: rows never end early)
    pad: int = 0  # what an ended row gets
    start: Optional[int] = None  # decoder_start_token_id (encoder-decoder models)

    @classmethod
    def from_settings(cls, settings: dict) -> "TokenIds":
        """From ``eos_token_id`` (an id or a list), ``pad_token_id`` and
        ``decoder_start_token_id`` as configs spell them; generate pads with the first eos when
        no pad is set, else 0."""
        eos = settings.get("eos_token_id")
        eos = tuple(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos]))
        pad = settings.get("pad_token_id")
        start = settings.get("decoder_start_token_id")
        return cls(eos, int(pad) if pad is not None else (eos[0] if eos else 0),
                   None if start is None else int(start))


def greedy(next_logits: NextLogits, batch: int, max_new_tokens: int, ids: TokenIds) -> np.ndarray:
    """The new tokens, [batch, n] with n <= max_new_tokens."""
    done = np.zeros(batch, dtype=bool)
    token, new = None, []
    for _ in range(max_new_tokens):
        token = np.where(done, ids.pad, next_logits(token).argmax(-1)).astype(np.int64)
        new.append(token)
        done |= np.isin(token, ids.eos)
        if done.all():
            break
    return np.stack(new, axis=1)
