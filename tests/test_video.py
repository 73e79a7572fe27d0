"""sdg.augment.video: MP4 round trips, colour order, odd sizes, error messages."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from sdg.augment.video import VideoError, decode_mp4, encode_mp4, even_size, mp4_codec, read_mp4, write_mp4


def smooth_clip(t: int = 8, h: int = 48, w: int = 64) -> np.ndarray:
    """A moving colour gradient: smooth (codec-friendly) and different in every frame."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(t):
        r = 40 + 150 * xx / w + 3 * i
        g = 60 + 120 * yy / h
        b = np.full_like(xx, 30.0 + 20 * i)
        frames.append(np.dstack([r, g, b]))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def test_round_trip_preserves_frames_size_and_content():
    clip = smooth_clip()
    data = encode_mp4(clip, fps=10.0)
    assert data[4:8] == b"ftyp"  # an ISO-BMFF (MP4) file
    out = decode_mp4(data)
    assert out.shape == clip.shape and out.dtype == np.uint8
    err = np.abs(out.astype(np.int16) - clip.astype(np.int16))
    assert err.mean() < 3.0
    # frame order survives: every decoded frame is closest to its own source frame (blue rises 20 per frame)
    blue_out = out[..., 2].reshape(len(out), -1).mean(1)
    blue_in = clip[..., 2].reshape(len(clip), -1).mean(1)
    assert np.argmin(np.abs(blue_out[:, None] - blue_in[None, :]), axis=1).tolist() == list(range(len(clip)))


def test_rgb_order_on_disk_is_bgr_for_opencv(tmp_path):
    red = np.zeros((4, 32, 32, 3), np.uint8)
    red[..., 0] = 220  # pure red in RGB
    p = tmp_path / "red.mp4"
    write_mp4(p, red, fps=5.0)
    cap = cv2.VideoCapture(str(p))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    b, g, r = bgr.reshape(-1, 3).mean(0)
    assert r > 200 and g < 20 and b < 20  # OpenCV (BGR) sees red in its last channel
    rgb = read_mp4(p)
    assert rgb[0].reshape(-1, 3).mean(0)[0] > 200 and rgb[0].reshape(-1, 3).mean(0)[2] < 20


def test_codec_written_is_the_probed_one(tmp_path):
    p = tmp_path / "c.mp4"
    assert write_mp4(p, smooth_clip(3), fps=7.0) == mp4_codec()
    cap = cv2.VideoCapture(str(p))
    v = int(cap.get(cv2.CAP_PROP_FOURCC))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    tag = "".join(chr((v >> (8 * i)) & 255) for i in range(4)).lower()
    assert tag in ({"avc1", "h264"} if mp4_codec() == "avc1" else {"fmp4", "mp4v"})
    assert fps == pytest.approx(7.0)


def test_odd_sizes_are_padded_and_cropped_back():
    clip = smooth_clip(5, 47, 63)
    assert even_size(47, 63) == (48, 64)
    data = encode_mp4(clip, fps=10.0)
    full = decode_mp4(data)
    assert full.shape == (5, 48, 64, 3)
    # the padding repeats the last row/column
    assert np.abs(full[:, 47].astype(int) - full[:, 46].astype(int)).mean() < 4
    cropped = decode_mp4(data, size=(47, 63))
    assert cropped.shape == clip.shape
    assert np.abs(cropped.astype(int) - clip.astype(int)).mean() < 3.0


def test_greyscale_clip_becomes_grey_rgb():
    grey = np.tile(np.linspace(20, 230, 64, dtype=np.float32)[None, None, :], (3, 32, 1)).astype(np.uint8)
    out = decode_mp4(encode_mp4(grey, fps=10.0))
    assert out.shape == (3, 32, 64, 3)
    assert np.abs(out[..., 0].astype(int) - out[..., 2].astype(int)).max() < 8
    assert np.abs(out[..., 1].astype(int) - grey.astype(int)).mean() < 3


def test_bad_inputs_name_the_problem(tmp_path):
    with pytest.raises(VideoError, match="uint8"):
        encode_mp4(np.zeros((2, 8, 8, 3), np.float32), fps=10)
    with pytest.raises(VideoError, match=r"\(T,H,W,3\)"):
        encode_mp4(np.zeros((2, 8, 8, 4), np.uint8), fps=10)
    with pytest.raises(VideoError, match="empty clip"):
        encode_mp4(np.zeros((0, 8, 8, 3), np.uint8), fps=10)
    with pytest.raises(VideoError, match="fps"):
        write_mp4(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.uint8), fps=0)
    with pytest.raises(VideoError, match="ctrl-edge.mp4"):
        decode_mp4(b"this is not a video" * 10, name="ctrl-edge.mp4")
    with pytest.raises(VideoError, match="empty video data"):
        decode_mp4(b"", name="x")
    with pytest.raises(VideoError, match="no such video file"):
        read_mp4(tmp_path / "missing.mp4")
    with pytest.raises(VideoError, match="cannot crop"):
        decode_mp4(encode_mp4(smooth_clip(2, 16, 16), 10), size=(32, 16))
