"""The vectors kept in the repository are the design's vectors, byte for byte.

The design folder (`../shared/vectors` beside the checkout) is where the
vectors are published; the suite runs from the copies so a checkout alone is
enough. When the design folder is present, any drift fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent / "vectors"
DESIGN = Path(__file__).resolve().parents[4] / "shared" / "vectors"


@pytest.mark.parametrize("name", ["egs1.json", "keywrap.json"])
def test_copies_match_the_published_vectors(name: str) -> None:
    published = DESIGN / name
    if not published.is_file():
        pytest.skip("the design's vectors folder is not beside this checkout")
    assert (HERE / name).read_bytes() == published.read_bytes()
