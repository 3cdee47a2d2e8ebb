import io

import numpy as np
from PIL import Image

from sole.models.base import composite, png_bytes


def test_composite_puts_external_on_top_and_first_previous_current_left_to_right():
    frames = [{v: np.full((4, 4, 3), 10 * i + j, np.uint8) for j, v in enumerate(("external", "wrist"))}
              for i in range(3)]
    img = composite(*frames)
    assert img.shape == (8, 12, 3)
    assert img[0, 0, 0] == 0 and img[0, 4, 0] == 10 and img[0, 8, 0] == 20 and img[4, 8, 0] == 21
    assert composite(*frames, views=("wrist",)).shape == (4, 12, 3)


def test_png_bytes_round_trip():
    img = np.random.default_rng(0).integers(0, 255, (6, 9, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(img, compress_level=1)))), img)
