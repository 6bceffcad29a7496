"""The vector kept beside these tests is the design's `vectors/merkle.json`, byte for byte.

The suite runs from the copy so a checkout alone is enough; when the design
folder (`../shared/vectors` beside the checkout) is present, any drift fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent / "vectors"
DESIGN = Path(__file__).resolve().parents[4] / "shared" / "vectors"


def test_the_copy_matches_the_published_vector() -> None:
    published = DESIGN / "merkle.json"
    if not published.is_file():
        pytest.skip("the design's vectors folder is not beside this checkout")
    assert (HERE / "merkle.json").read_bytes() == published.read_bytes()
