import numpy as np
import pytest

from sdg.codec import decode_array, decode_image, encode_array, encode_image, pack_arrays, unpack_arrays


def test_pack_round_trip_exact():
    rng = np.random.default_rng(0)
    arrays = {
        "depth": (rng.random((3, 5, 7)) * 1000).astype(np.float32),
        "inst": rng.integers(0, 2**32 - 1, (2, 4), dtype=np.uint32),
        "empty": np.zeros((0, 3), np.int16),
        "n": rng.random((2, 2, 3)).astype(np.float16),
    }
    out = unpack_arrays(pack_arrays(arrays))
    assert list(out) == list(arrays)
    for k in arrays:
        assert out[k].dtype == arrays[k].dtype and out[k].shape == arrays[k].shape
        np.testing.assert_array_equal(out[k], arrays[k])
    assert list(unpack_arrays(pack_arrays(arrays), names=["inst"])) == ["inst"]


def test_trailing_zero_bytes_survive():
    a = np.zeros(10, np.uint8)
    np.testing.assert_array_equal(decode_array(encode_array(a)), a)


def test_bad_blob():
    with pytest.raises(ValueError, match="bad magic"):
        unpack_arrays(b"nope")
    with pytest.raises(TypeError):
        pack_arrays({"o": np.array([b"x"], dtype=object)})


def test_png_lossless_and_jpeg_close():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(encode_image(img, "png")), img)
    sem = rng.integers(0, 29, (20, 30), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(encode_image(sem, "png"), unchanged=True), sem)
    smooth = np.tile(np.linspace(0, 255, 30, dtype=np.uint8)[None, :, None], (20, 1, 3))
    back = decode_image(encode_image(smooth, "jpeg", 95))
    assert np.abs(back.astype(int) - smooth).mean() < 2.0
    # channel order is RGB in and out
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    assert decode_image(encode_image(red, "png"))[0, 0].tolist() == [255, 0, 0]


def test_first_format_blobs_still_decode():
    """Datasets written by the first version (zlib, "SDGA1") stay readable."""
    import json
    import struct
    import zlib

    a = (np.arange(60, dtype=np.float32) * 1.5).reshape(3, 4, 5)
    data = zlib.compress(a.tobytes(), 1)
    h = json.dumps([{"name": "a", "dtype": a.dtype.str, "shape": list(a.shape), "nbytes": len(data)}]).encode()
    old = b"SDGA1" + struct.pack("<I", len(h)) + h + data
    np.testing.assert_array_equal(decode_array(old), a)
    new = encode_array(a)
    assert new.startswith(b"SDGA2") and decode_array(new).flags.writeable


def test_zstd_blobs_are_small_for_label_images():
    inst = np.zeros((720, 1280), np.uint32)
    inst[100:300, 200:500] = 1234
    assert len(encode_array(inst)) < inst.nbytes / 100


def test_full_chroma_jpeg_keeps_a_thin_coloured_line_off_its_neighbour():
    """A 2 px red lamp next to a 1 px green outline: 4:2:0 averages their chroma, 4:4:4 keeps the lamp red."""
    img = np.full((32, 32, 3), 90, np.uint8)
    img[15:17, 15:17] = (200, 40, 40)  # the lamp
    img[14:18, 17] = (40, 230, 60)  # the outline beside it

    def lamp_hue_ok(data: bytes) -> bool:
        r, g, b = (int(x) for x in decode_image(data)[15:17, 15:17].reshape(-1, 3).mean(0))
        return r > 1.6 * g and r > 1.6 * b

    assert lamp_hue_ok(encode_image(img, "jpeg", 90, full_chroma=True))
    assert not lamp_hue_ok(encode_image(img, "jpeg", 90))
