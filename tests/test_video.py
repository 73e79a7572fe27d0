"""sdg.augment.video: MP4 round trips, colour order, odd sizes, error messages; H.264 profiles (lossless 4:4:4
controls, yuv420p crf video), exact frame counts and rates, a quiet stderr."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sdg.augment.controls import depth_frames, seg_frames
from sdg.augment.video import (
    VideoError,
    decode_mp4,
    encode_mp4,
    even_size,
    mp4_codec,
    probe_mp4,
    read_mp4,
    write_mp4,
)
from sdg.tags import PALETTE

REPO = Path(__file__).resolve().parents[1]


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


def palette_clip(t: int = 6, h: int = 90, w: int = 160, block: int = 10, seed: int = 0) -> np.ndarray:
    """Semantic labels in blocks (every CARLA tag present), as the seg control colours them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(PALETTE), (t, h // block, w // block))
    labels[0].flat[: len(PALETTE)] = np.arange(len(PALETTE))
    return labels.repeat(block, 1).repeat(block, 2).astype(np.uint8)


def test_segmentation_control_round_trips_palette_colours_within_one():
    semantic = palette_clip()
    seg = seg_frames(semantic)
    assert len({tuple(c) for c in seg.reshape(-1, 3)}) == len(PALETTE)  # every palette colour is in the clip
    data = encode_mp4(seg, fps=10.0, profile="control")
    out = decode_mp4(data)
    assert out.shape == seg.shape
    err = np.abs(out.astype(np.int16) - seg.astype(np.int16))
    assert err.max() <= 1, err.max()  # lossless H.264; only the RGB<->YUV rounding remains
    # and the labels come back exactly by nearest palette colour
    d = np.abs(out[..., None, :].astype(np.int16) - PALETTE[None, None, None].astype(np.int16)).sum(-1)
    assert np.array_equal(d.argmin(-1), semantic)
    # the same clip through the lossy rgb profile is measurably worse at block borders: the profiles differ
    lossy = decode_mp4(encode_mp4(seg, fps=10.0))
    assert np.abs(lossy.astype(np.int16) - seg.astype(np.int16)).max() > 8


def test_control_container_is_h264_yuv444p_and_video_is_yuv420p(tmp_path):
    depth = np.linspace(2.0, 80.0, 6 * 48 * 64, dtype=np.float32).reshape(6, 48, 64)
    ctrl = depth_frames(depth)
    info = probe_mp4(encode_mp4(ctrl, fps=10.0, profile="control"))
    assert (info.codec, info.pix_fmt, info.width, info.height, info.frames) == ("h264", "yuv444p", 64, 48, 6)
    p = tmp_path / "rgb.mp4"
    assert write_mp4(p, smooth_clip(5), fps=10.0) == "avc1"
    info = probe_mp4(p)
    assert (info.codec, info.pix_fmt, info.frames) == ("h264", "yuv420p", 5)
    # an independent reader agrees (OpenCV's FFmpeg): H.264 in MP4, 5 frames
    cap = cv2.VideoCapture(str(p))
    v = int(cap.get(cv2.CAP_PROP_FOURCC))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert "".join(chr((v >> (8 * i)) & 255) for i in range(4)).lower() in {"avc1", "h264"} and n == 5


@pytest.mark.parametrize("fps, frames", [(10.0, 30), (7.0, 13), (29.97, 9), (1.6, 4), (1 / 0.1, 3), (2.0, 1)])
def test_exact_frame_count_and_rate(fps, frames):
    clip = smooth_clip(frames, 32, 48)
    for profile in ("rgb", "control"):
        data = encode_mp4(clip, fps=fps, profile=profile)
        info = probe_mp4(data)
        assert info.frames == frames and decode_mp4(data).shape[0] == frames
        assert info.fps == pytest.approx(fps, rel=1e-4), (profile, info.fps)


def test_odd_control_is_padded_and_cropped_back_losslessly():
    seg = seg_frames(palette_clip(4, 49, 63, block=7))
    assert seg.shape == (4, 49, 63, 3)
    out = decode_mp4(encode_mp4(seg, 10.0, profile="control"), size=(49, 63))
    assert out.shape == seg.shape and np.abs(out.astype(int) - seg.astype(int)).max() <= 1


def test_reads_other_codecs_and_rejects_truncated_files(tmp_path):
    """Servers answer with whatever their writer makes: an MPEG-4 Part 2 file from OpenCV decodes too."""
    p = tmp_path / "mp4v.mp4"
    clip = smooth_clip(5)
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for f in clip:
        w.write(np.ascontiguousarray(f[:, :, ::-1]))
    w.release()
    out = read_mp4(p)
    assert out.shape == clip.shape and np.abs(out.astype(int) - clip.astype(int)).mean() < 4
    data = encode_mp4(smooth_clip(8), 10.0)
    with pytest.raises(VideoError, match="cut.mp4"):
        decode_mp4(data[: len(data) // 3], name="cut.mp4")
    with pytest.raises(VideoError, match="unknown video profile 'ffv1'"):
        encode_mp4(clip, 10.0, profile="ffv1")


def test_encoding_prints_nothing_on_stderr():
    """A fresh process that encodes both profiles and decodes them: stderr stays empty (no encoder probes, no
    libx264 banners)."""
    code = ("import numpy as np\n"
            "from sdg.augment.video import encode_mp4, decode_mp4\n"
            "a = np.random.default_rng(0).integers(0, 255, (4, 36, 50, 3)).astype(np.uint8)\n"
            "for p in ('rgb', 'control'):\n"
            "    assert decode_mp4(encode_mp4(a, 10.0, profile=p)).shape == (4, 36, 50, 3)\n"
            "print('done')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout.strip() == "done", r.stderr
    assert r.stderr == ""
