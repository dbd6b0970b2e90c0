"""The listening page in a real headless Chromium (Debian's), served from loopback."""
import functools
import http.server
import shutil
import threading

import pytest

from conftest import TINY_CLIP_SECONDS, TINY_WINDOW

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def served(pipeline_run):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(pipeline_run / "reports"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_page_loads_without_errors_and_every_audio_decodes(served, pipeline_run, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page()
        problems = []
        page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
        response = page.goto(f"{served}/index.html", wait_until="load")
        assert response.ok
        assert page.locator("table").count() >= 5 + 20 + 2  # Tables III-VII, one per sample, the study's two
        assert page.locator("h3", has_text="Table VII").count() == 1
        images = page.evaluate("Array.from(document.images).map(i => [i.src, i.naturalWidth])")
        assert images and all(width > 0 for _, width in images), images
        # every table carries its note; the confusion matrices are on the page, three to a row
        assert page.locator("p.note", has_text="MF: the mel filterbank").count() == 4  # Tables III-VI
        assert page.locator("p.note", has_text="True SNR = 10·log10").count() == 1    # Table VII
        assert "coincide by construction" not in page.content()  # tiny clips hold two segments each
        confusion = sorted((pipeline_run / "reports/figures/confusion").glob("*.png"))
        assert page.locator("img.small").count() == len(confusion) == 6
        assert page.evaluate("document.querySelector('img.small').getBoundingClientRect().width") < 400
        # screenshots of the whole page and of the study's figure, as a reader sees them
        page.set_viewport_size({"width": 1200, "height": 900})
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        page.locator("img[alt=study_accuracy_vs_snr]").screenshot(path=str(tmp_path / "study.png"))
        decoded = page.evaluate("""async () => {
            const ctx = new OfflineAudioContext(1, 1, 22050);
            const out = [];
            for (const el of document.querySelectorAll('audio')) {
                const data = await (await fetch(el.getAttribute('src'))).arrayBuffer();
                const buf = await ctx.decodeAudioData(data);
                out.push([el.getAttribute('src'), buf.duration, buf.sampleRate]);
            }
            return out;
        }""")
        browser.close()
    from PIL import Image

    for shot in ("page.png", "study.png"):
        with Image.open(tmp_path / shot) as image:
            assert image.width >= 600 and len(image.convert("L").getcolors()) > 16, shot  # not blank
    samples = [d for d in decoded if not d[0].startswith("study_audio/")]
    study = [d for d in decoded if d[0].startswith("study_audio/")]
    # the study: 5 source paths x (clean + 2 eps x (2 attacks, their 2 nulls, the noise's first draw))
    assert len(samples) == 140 and len(study) == 5 * (1 + 2 * 5)
    segment_s, clip_s = TINY_WINDOW / 22050, round(TINY_CLIP_SECONDS * 22050) / 22050
    assert all(abs(duration - segment_s) < 1e-3 and rate == 22050 for _, duration, rate in samples), samples[:3]
    assert all(abs(duration - clip_s) < 1e-3 and rate == 22050 for _, duration, rate in study), study[:3]
    assert problems == []
