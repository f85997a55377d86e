"""mask_identifiers skips text without a run of 7 digits: it never skips text holding an identifier."""

from __future__ import annotations

import random

from dq.io.masking import _IDENTIFIER, mask_identifiers, mask_value


def _unfiltered(text: str) -> str:
    return _IDENTIFIER.sub(lambda m: mask_value(m.group(0), "id" if m.group("id") else "phone"), text)


def test_the_prefilter_never_skips_an_identifier() -> None:
    rnd = random.Random(3)
    pieces = [
        "320106199001011234", "32010619900101123X", "320106900101123", "13812345678",
        "+86 13812345678", "86-13912345678", "025-84561234", "0512-1234567", "٣٢٠١٠٦١٩٩٠٠١٠١١٢٣٤",
        "2020-09-23 08:21:00", "MZ0000000001", "12345", "电话", " ", "x", "-", "+",
    ]  # fmt: skip
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 4))) for _ in range(20_000)]
    texts += ["", "no digits", "123456", "1234567"]
    masked = 0
    for text in texts:
        want = _unfiltered(text)
        assert mask_identifiers(text) == want, text
        masked += want != text
    assert masked > 5_000
