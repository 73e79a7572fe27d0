"""Headless Chromium (Debian's `chromium` package) for the report tests and `make report-check`: what the browser
made of a page (its height, how many images it decoded and which it could not) and full-page screenshots.

`python tests/chromium.py PAGE.html OUT_PREFIX` writes OUT_PREFIX-<k>.png screenshots of the whole page (1400 px wide,
in slices of at most 8000 px) and prints the page facts."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio"]
WIDTH = 1400
SLICE = 8000

# appended to a copy of the page: once everything has loaded, the browser writes what it made of the page into
# <body data-facts="...">
_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = [].slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
    .map(function (i) { return i.getAttribute('src'); });
  var outside = [].slice.call(document.querySelectorAll('[src],[href]'))
    .map(function (e) { return e.getAttribute('src') || e.getAttribute('href'); })
    .filter(function (u) { return /^[a-z]+:/i.test(u) && !/^(file|data):/i.test(u); });
  var sections = [].slice.call(document.querySelectorAll('section')).map(function (s) { return s.id; });
  document.body.setAttribute('data-facts', JSON.stringify({height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth, images: imgs.length, broken: broken, outside: outside,
    sections: sections}));
});
</script>"""


def find() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
    exe = find()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                              timeout=timeout)


def _copy_with(page: Path, extra: str, tag: str) -> Path:
    """A copy of the page in its own folder (so its relative image paths resolve) with `extra` inserted."""
    html = page.read_text()
    copy = page.with_name(f".{page.stem}.{tag}.html")
    copy.write_text(html.replace("</body>", extra + "</body>") if tag == "probe"
                    else html.replace("</head>", extra + "</head>"))
    return copy


def page_facts(page: Path) -> dict:
    """{height, width, images, broken: [src], outside: [urls], sections: [id]} as the browser saw the page."""
    copy = _copy_with(Path(page), _PROBE, "probe")
    try:
        r = _run([f"--window-size={WIDTH},1000", "--virtual-time-budget=20000", "--dump-dom", copy.resolve().as_uri()])
    finally:
        copy.unlink()
    m = re.search(r'data-facts="([^"]*)"', r.stdout)
    if not m:
        raise RuntimeError(f"chromium did not render {page}: {r.stderr[-2000:]}")
    import html

    return json.loads(html.unescape(m.group(1)))


def screenshots(page: Path, prefix: Path, height: int | None = None) -> list[Path]:
    """Screenshots of the whole page, WIDTH px wide, in slices of at most SLICE px (a copy of the page shifted up
    for each slice). Returns the PNG paths."""
    page = Path(page)
    height = height or page_facts(page)["height"]
    out = []
    for k, top in enumerate(range(0, height, SLICE)):
        h = min(SLICE, height - top)
        copy = _copy_with(page, f"<style>body{{position:relative;top:-{top}px}}nav{{position:static}}</style>",
                          f"shot{k}")
        path = Path(f"{prefix}-{k}.png")
        try:
            r = _run([f"--screenshot={path.resolve()}", f"--window-size={WIDTH},{h}", "--virtual-time-budget=20000",
                      copy.resolve().as_uri()])
        finally:
            copy.unlink()
        if not path.exists():
            raise RuntimeError(f"chromium wrote no screenshot of {page}: {r.stderr[-2000:]}")
        out.append(path)
    return out


if __name__ == "__main__":
    facts = page_facts(Path(sys.argv[1]))
    print(json.dumps({k: v for k, v in facts.items()}, indent=1))
    for p in screenshots(Path(sys.argv[1]), Path(sys.argv[2]), facts["height"]):
        print(f"wrote {p}")
