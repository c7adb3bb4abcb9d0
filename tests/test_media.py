"""Decoding every supported kind of still, and a clear one-line error for every bad input."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cinemanet.media import IMAGE_EXTENSIONS, ImageReadError, discover, load_image
from cinemanet.media.images import WORK_LONG_SIDE, trim_bars

from conftest import EXAMPLES


def _photo(w=640, h=360) -> Image.Image:
    return Image.open(EXAMPLES / "tears_of_steel_bridge.jpg").convert("RGB").resize((w, h))


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("a.jpg", {}),
        ("a.png", {}),
        ("a.webp", {"quality": 90}),
        ("a.tif", {}),
        ("a.tiff", {"compression": "tiff_lzw"}),
        ("a.bmp", {}),
    ],
)
def test_formats(tmp_path, name, kwargs):
    p = tmp_path / name
    _photo().save(p, **kwargs)
    f = load_image(p)
    assert (f.width, f.height) == (640, 360)
    assert f.rgb.dtype == np.uint8 and f.rgb.shape == (270, 480, 3)
    assert f.path == str(p.absolute())
    assert abs(float(f.rgb.mean()) - float(np.asarray(_photo().resize((480, 270))).mean())) < 4


def test_large_jpeg_decodes_at_working_size(tmp_path):
    p = tmp_path / "hd.jpg"
    _photo(1920, 1080).save(p, quality=90)
    f = load_image(p)
    assert (f.width, f.height) == (1920, 1080)
    assert max(f.rgb.shape[:2]) == WORK_LONG_SIDE


def test_grayscale_16bit_cmyk_alpha(tmp_path):
    g = _photo().convert("L")
    g.save(tmp_path / "g.png")
    a16 = np.asarray(g).astype(np.uint16) * 257
    Image.fromarray(a16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    _photo().convert("CMYK").save(tmp_path / "c.jpg")
    rgba = _photo().convert("RGBA")
    rgba.putalpha(128)
    rgba.save(tmp_path / "a.png")
    la = g.convert("LA")
    la.save(tmp_path / "la.png")
    p = _photo().convert("P", palette=Image.Palette.ADAPTIVE)
    p.save(tmp_path / "p.gif" if False else tmp_path / "p.png")
    ref = np.asarray(g.resize((480, 270)), np.float64)
    for name in ("g.png", "g16.png", "la.png"):
        f = load_image(tmp_path / name)
        assert f.rgb.shape == (270, 480, 3)
        assert np.allclose(f.rgb[..., 0], f.rgb[..., 1])  # still gray
        if name != "la.png":
            assert abs(f.rgb[..., 0].mean() - ref.mean()) < 3, name
    c = load_image(tmp_path / "c.jpg")
    assert abs(c.rgb.astype(float).mean() - np.asarray(_photo().resize((480, 270))).mean()) < 8
    a = load_image(tmp_path / "a.png")  # half-transparent over black: about half as bright
    assert 0.35 < a.rgb.mean() / np.asarray(_photo()).mean() < 0.65
    assert load_image(tmp_path / "p.png").rgb.shape == (270, 480, 3)


def test_exif_rotation_is_applied(tmp_path):
    upright = Image.new("RGB", (180, 320), (20, 20, 200))
    upright.paste((220, 20, 20), (0, 0, 180, 100))  # red at the top
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera would store it
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    stored.save(tmp_path / "r.jpg", exif=exif, quality=95)
    f = load_image(tmp_path / "r.jpg")
    assert (f.width, f.height) == (180, 320)
    assert f.rgb.shape[0] > f.rgb.shape[1]
    top, bottom = f.rgb[:20].mean((0, 1)), f.rgb[-20:].mean((0, 1))
    assert top[0] > 150 and bottom[2] > 150


def test_arrays_and_pil(sample_rgb):
    assert load_image(sample_rgb).rgb.shape == (270, 480, 3)
    assert load_image(sample_rgb.astype(np.float32) / 255).rgb.shape == (270, 480, 3)
    assert load_image(sample_rgb[..., 0]).rgb.shape == (270, 480, 3)
    assert load_image(Image.fromarray(sample_rgb)).width == 640
    with pytest.raises(ImageReadError):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(TypeError):
        load_image(12345)


def test_letterbox_bars_are_trimmed(sample_rgb):
    boxed = np.zeros((480, 640, 3), np.uint8)
    boxed[60:420] = sample_rgb
    content, bars = trim_bars(boxed)
    assert bars[0] == 60 and bars[1] == 60 and content.shape == (360, 640, 3)
    black = np.zeros((360, 640, 3), np.uint8)
    assert trim_bars(black)[1] == (0, 0, 0, 0)  # a black frame stays a black frame


# ---- bad input: one clear line each ---------------------------------------------------------


def _png_header_only(path: Path, w: int, h: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "zero.jpg").write_bytes(b"")
    _photo().save(tmp / "whole.jpg", quality=90)
    data = (tmp / "whole.jpg").read_bytes()
    (tmp / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp / "text.jpg").write_text("this is not an image\n")
    _png_header_only(tmp / "bomb.png", 30000, 30000)
    return {
        "zero": tmp / "zero.jpg",
        "truncated": tmp / "truncated.jpg",
        "text": tmp / "text.jpg",
        "bomb": tmp / "bomb.png",
        "missing": tmp / "nope.jpg",
    }


@pytest.mark.parametrize(
    "kind,needle",
    [
        ("zero", "empty"),
        ("truncated", "truncated"),
        ("text", "not a recognised image"),
        ("bomb", "too large"),
        ("missing", "no such file"),
    ],
)
def test_bad_input_gives_one_line_reason(tmp_path, kind, needle):
    path = _bad_inputs(tmp_path)[kind]
    with pytest.raises(ImageReadError) as e:
        load_image(path)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and len(msg) < 200


def test_bomb_is_refused_before_decoding(tmp_path):
    import resource

    _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageReadError):
        load_image(tmp_path / "bomb.png")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: nothing was allocated


def _without_root_read_override() -> list[str]:
    """Command prefix that takes away root's power to read any file, so mode 000 means it."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_unreadable_file_real_permissions(tmp_path):
    p = tmp_path / "secret.jpg"
    _photo().save(p)
    p.chmod(0)
    code = (
        "import sys; from cinemanet.media import load_image, ImageReadError\n"
        "try:\n    load_image(sys.argv[1])\nexcept ImageReadError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        _without_root_read_override() + [sys.executable, "-c", code, str(p)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == "permission denied", out.stderr[-500:]


def test_discover_walks_folders_and_reports_problems(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    _photo(64, 36).save(tmp_path / "a" / "b" / "two.JPG")
    _photo(64, 36).save(tmp_path / "a" / "one.png")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    found = list(discover([tmp_path / "a", tmp_path / "empty", tmp_path / "missing.jpg"], IMAGE_EXTENSIONS))
    assert [Path(i.path).name for i in found] == ["one.png", "two.JPG", "empty", "missing.jpg"]
    assert found[0].error is None and found[1].error is None
    assert "contains no images" in found[2].error
    assert found[3].error == "no such file or directory"


def test_odd_file_names(tmp_path):
    spaced = tmp_path / "  a still  with spaces .jpg"
    _photo(64, 36).save(spaced)
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9-latin1.jpg"  # not UTF-8
    with open(raw, "wb") as fh:
        _photo(64, 36).save(fh, format="JPEG")
    names = sorted(i.path for i in discover([tmp_path], IMAGE_EXTENSIONS))
    assert len(names) == 2
    for n in names:
        assert load_image(n).width == 64
    assert any("\udce9" in n for n in names)  # surrogate-escaped, round-trips to the same bytes


def test_large_real_still_under_the_promised_limit_is_read(tmp_path):
    """A 10000x9500 JPEG (95 MP) is over Pillow's 89 MP default but under the documented 180 MP."""
    from PIL import Image

    from cinemanet.media.images import MAX_PIXELS, load_image

    assert 10000 * 9500 < MAX_PIXELS
    img = np.zeros((9500, 10000, 3), np.uint8)
    img[:, 5000:] = (200, 120, 40)
    Image.fromarray(img).save(tmp_path / "big.jpg", quality=70)
    del img
    f = load_image(tmp_path / "big.jpg")
    assert (f.width, f.height) == (10000, 9500)
    assert max(f.rgb.shape[:2]) <= 480


def test_tag_on_a_video_names_analyze(tmp_path):
    from cinemanet.media import IMAGE_EXTENSIONS, discover
    from cinemanet.media.video import VIDEO_EXTENSIONS

    (tmp_path / "clip.mp4").write_bytes(b"\0" * 16)
    hint = (VIDEO_EXTENSIONS, "video", "cinemanet analyze")
    [f] = discover([tmp_path / "clip.mp4"], IMAGE_EXTENSIONS, elsewhere=hint)
    assert "use `cinemanet analyze`" in f.error
    [d] = discover([tmp_path], IMAGE_EXTENSIONS, elsewhere=hint)
    assert "folder contains no images" in d.error and "cinemanet analyze" in d.error
    out = subprocess.run(
        [sys.executable, "-m", "cinemanet", "tag", str(tmp_path / "clip.mp4"), "-f", "jsonl"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "use `cinemanet analyze` for videos" in out.stderr
