"""dangan serve in a real browser: Debian's Chromium, headless, driven by Selenium, against uvicorn on loopback.

Sign in; search 档案 and find the 檔案 record; open it and see its preview; the lending workflow (staff
requests, the head approves, the archivist issues and takes back); an upload missing a required field shows
the message at the field; a user without clearance sees the secrecy mark and no title.  Screenshots at
1280 × 800 and at a phone's 390 × 844 go to ``$DANGAN_SCREENSHOTS`` (default: the test's tmp folder), and no
page is wider than its window (nothing cut off)."""
from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from serve_helpers import SECRET_TITLE, password
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                reason="chromium and chromium-driver are not installed (scripts/install-system-deps)")


@pytest.fixture
def server(archive_root):
    import uvicorn
    from dangan.web.app import create_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(archive_root), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        if not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(30)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=zh-CN",
              f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1280,800"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


class Page:
    def __init__(self, driver, base: str, shots: Path) -> None:
        self.d, self.base, self.shots = driver, base, shots

    def go(self, path: str):
        self.d.get(self.base + path)

    def css(self, sel: str):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def all(self, sel: str):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def click(self, sel: str) -> None:
        """Click what submits a form or follows a link, and wait until the next page has replaced this one."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.d.find_element(By.TAG_NAME, "html")
        self.css(sel).click()
        WebDriverWait(self.d, 20).until(ec.staleness_of(old))

    def sign_in(self, name: str) -> None:
        self.go("/login")
        self.css("#user").send_keys(name)
        self.css("#password").send_keys(password(name))
        self.click("#signin")
        assert self.css("#whoami").text == name

    def sign_out(self) -> None:
        self.click("#signout")
        assert self.css("#login")

    def shot(self, name: str) -> None:
        """Screenshots at desktop and phone size; at both, the page is no wider than the window."""
        for w, h, tag in ((1280, 800, "desktop"), (390, 844, "phone")):
            self.d.set_window_size(w, h)
            overflow = self.d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            self.d.save_screenshot(str(self.shots / f"{name}-{tag}.png"))
            assert overflow <= 1, f"{name} at {w}×{h} is {overflow}px wider than the window"
        self.d.set_window_size(1280, 800)


def test_office_work_in_a_real_browser(browser, server, office, tmp_path):
    shots = Path(os.environ.get("DANGAN_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    p = Page(browser, server, shots)
    p.go("/search")
    assert "/login" in browser.current_url                                      # signed out: the sign-in page
    p.shot("login")
    p.sign_in("clerk")

    # search 档案: the 檔案 record is found, its snippet highlighted
    p.css("#q").send_keys("檔案管理")
    p.click("#searchform button")
    titles = [a.text for a in p.all("#hits td.title a")]
    assert "档案管理会议纪要" in titles
    p.css("#q").clear()
    p.css("#q").send_keys("档案")
    p.click("#searchform button")
    assert any("檔案" in m.text for m in p.all("#hits .snippet")) or "档案管理会议纪要" in p.css("#hits").text
    p.shot("search")

    # open it: fields, files and the inline preview of its text
    p.click(f'#hits a[href="/records/{office["plain"]}"]')
    assert p.css("#archival-code").text.startswith("Z109-WS·2021")
    frame = p.css("#preview-frame")
    browser.switch_to.frame(frame)
    assert "檔案管理制度" in p.css("body").text
    browser.switch_to.default_content()
    p.shot("record")

    # lending: staff requests from the record page ...
    p.css("#purpose").send_keys("核对制度")
    p.click("#request-loan")
    row = p.css("#mine tr.loan")
    lid = row.get_attribute("data-loan")
    assert "已申请" in row.text
    # a record above clearance: its marking, nothing more
    p.go(f"/records/{office['secret']}")
    assert "★秘密" in p.css("#denied").text and SECRET_TITLE not in browser.page_source
    p.shot("denied")
    p.sign_out()

    # ... the head approves ...
    p.sign_in("head")
    p.go("/loans")
    p.click(f'#queue tr[data-loan="{lid}"] button.approve')
    assert not p.all(f'#queue tr[data-loan="{lid}"]')
    p.sign_out()

    # ... the archivist issues and takes back
    p.sign_in("arch")
    p.go("/loans")
    p.click(f'#desk tr[data-loan="{lid}"] button.issue')
    assert "已出借" in p.css(f'#desk tr[data-loan="{lid}"]').text
    p.shot("loans")
    p.click(f'#desk tr[data-loan="{lid}"] button.return')
    assert not p.all(f'#desk tr[data-loan="{lid}"]')                              # closed: off the desk

    # upload with a required field missing: the plugin's message at that field
    p.go("/upload")
    from selenium.webdriver.support.ui import Select
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    old = browser.find_element(By.TAG_NAME, "html")
    Select(p.css("#category")).select_by_value("KX-YB")                          # reloads with its fields
    WebDriverWait(browser, 20).until(ec.staleness_of(old))
    assert p.css("#meta-customer_name")
    src = tmp_path / "客户资料.txt"
    src.write_text("客户资料 正文", encoding="utf-8")
    p.css("#file").send_keys(str(src))
    p.css("#field-title").send_keys("客户资料")
    p.css("#field-department").send_keys("KFB")
    p.css("#field-date").send_keys("2024-05-06")
    p.click("#upload-submit")
    assert "customer_name" in p.css("#error-meta-customer_name").text
    p.shot("upload-refused")
    p.css("#meta-customer_name").send_keys("张三")
    p.css("#file").send_keys(str(src))
    p.click("#upload-submit")
    assert p.css("#archived").text.startswith("已归档")
    if os.environ.get("DANGAN_SCREENSHOTS") is None:
        shutil.rmtree(shots, ignore_errors=True)


def test_holds_placed_and_released_in_a_real_browser(browser, server, office, tmp_path):
    """An archivist places a hold on a record by the holds page's form and releases it; staff see the
    register without the forms."""
    shots = Path(os.environ.get("DANGAN_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    p = Page(browser, server, shots)
    p.sign_in("arch")
    p.go("/holds")
    p.css('#place-hold input[name="records"]').send_keys(office["plain"])
    p.css('#place-hold input[name="reason"]').send_keys("诉讼保全")
    p.css('#place-hold input[name="authority"]').send_keys("区人民法院")
    p.click("#place")
    assert "已保全 1 件" in p.css("#notice").text
    row = p.css("#holds tr.hold")
    hid = row.get_attribute("data-hold")
    assert "保全中" in row.text and "区人民法院" in row.text
    p.shot("holds")
    p.css(f'#holds tr[data-hold="{hid}"] input[name="reason"]').send_keys("结案")
    p.click(f'#holds tr[data-hold="{hid}"] button.release')
    row = p.css(f'#holds tr[data-hold="{hid}"]')
    assert "解除" in row.text and not p.all(f'#holds tr[data-hold="{hid}"] button.release')
    p.sign_out()
    p.sign_in("clerk")
    p.go("/holds")
    assert not p.all("#place-hold") and p.css(f'#holds tr[data-hold="{hid}"]')
