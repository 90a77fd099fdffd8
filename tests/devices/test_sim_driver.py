import io
import json
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from core.steps import KEYS
from devices.drivers.base import AppNotInstalled, UnsupportedInput
from devices.drivers.sim import DEMO, LAUNCHER, SETTINGS, SimDriver, reset_sim_device
from devices.drivers.sim import device as sim_device
from devices.uitree import find_nodes, parse

NODE_ATTRS = [
    "index",
    "text",
    "resource-id",
    "class",
    "package",
    "content-desc",
    "checkable",
    "checked",
    "clickable",
    "enabled",
    "focusable",
    "focused",
    "scrollable",
    "long-clickable",
    "password",
    "selected",
    "bounds",
]


def one(driver, **selector):
    matches = find_nodes(parse(driver.dump_ui()), selector)
    assert len(matches) == 1, f"{selector}: {len(matches)} matches"
    return matches[0]


def tap(driver, **selector):
    driver.tap(*one(driver, **selector).center)


def texts(driver):
    return [n.text for n in parse(driver.dump_ui()) if n.text]


def sign_in(driver, email="demo@example.com", password="secret123"):
    driver.launch_app(DEMO)
    tap(driver, id="email")
    driver.input_text(email)
    tap(driver, id="password")
    driver.input_text(password)
    tap(driver, id="sign_in")


def test_fresh_phone_is_on_the_launcher(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    facts = driver.facts()
    assert (facts.model, facts.os_version, facts.screen_width, facts.screen_height) == (
        "CogniSim Virtual Phone",
        "14",
        1080,
        2400,
    )
    assert driver.foreground_package() == LAUNCHER
    icons = [n for n in parse(driver.dump_ui()) if n.clickable]
    assert [(n.text, n.content_desc) for n in icons] == [
        ("Settings", "Settings"),
        ("Login Demo", "Login Demo"),
    ]
    assert not (tmp_path / "sim-1.json").exists()


def test_dump_has_the_uiautomator_form(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    xml = driver.dump_ui()
    assert xml.startswith(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\"><node index=\"0\" "
        'text="" resource-id="" class="android.widget.FrameLayout" package="com.cognisim.demo"'
    )
    root = ET.fromstring(xml)
    assert root.tag == "hierarchy"
    nodes = list(root.iter("node"))
    assert len(nodes) > 15
    for element in nodes:
        assert list(element.attrib) == NODE_ATTRS
        assert element.attrib["package"] == DEMO
    classes = {element.attrib["class"] for element in nodes}
    assert {
        "android.widget.TextView",
        "android.widget.Button",
        "androidx.recyclerview.widget.RecyclerView",
    } <= classes


def test_text_is_escaped_in_the_dump(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.launch_app(DEMO)
    tap(driver, id="email")
    driver.input_text('a<b>&"c"\n\x01')
    assert one(driver, id="email").text == 'a<b>&"c"\n'


def test_settings_toggle_flips_the_switch(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    tap(driver, desc="Settings")
    assert driver.foreground_package() == SETTINGS
    wifi = one(driver, id="com.android.settings:id/wifi_switch")
    assert wifi.class_name == "android.widget.Switch" and wifi.checkable and wifi.checked
    tap(driver, text="Wi-Fi")
    assert not one(driver, id="wifi_switch").checked
    tap(driver, id="wifi_switch")
    assert one(driver, id="wifi_switch").checked
    tap(driver, id="bluetooth_switch")
    assert one(driver, id="bluetooth_switch").checked
    ids = [n.resource_id for n in parse(driver.dump_ui()) if n.class_name == "android.widget.Switch"]
    assert len(set(ids)) == 5


def test_about_phone_and_back(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.launch_app(SETTINGS)
    tap(driver, text="About phone")
    assert {"Model", "CogniSim Virtual Phone", "Android version", "14"} <= set(texts(driver))
    driver.press_key("back")
    assert "Wi-Fi" in texts(driver)
    driver.press_key("back")
    assert driver.foreground_package() == LAUNCHER


def test_login_fields_password_and_keys(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.launch_app(DEMO)
    assert one(driver, id="email").text == "Email"
    driver.input_text("ignored")
    assert one(driver, id="email").text == "Email"
    tap(driver, id="email")
    assert one(driver, id="email").focused
    driver.input_text("demo@example.comx")
    driver.press_key("del")
    driver.press_key("tab")
    driver.input_text("secret123")
    password = one(driver, id="password")
    assert password.password and password.text == "•" * 9 and password.focused
    driver.press_key("enter")
    assert one(driver, id="greeting").text == "Welcome, Demo!"


def test_wrong_credentials_show_an_error(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver, password="nope")
    assert one(driver, id="com.cognisim.demo:id/error").text == "Invalid email or password"
    assert "Welcome, Demo!" not in texts(driver)


def test_sign_out_returns_to_an_empty_login(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    tap(driver, text="Sign out")
    assert one(driver, id="email").text == "Email"
    assert one(driver, id="password").text == "Password"


def test_stop_app_keeps_the_sign_in_and_clear_state_wipes_it(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    driver.stop_app(DEMO)
    assert driver.foreground_package() == LAUNCHER
    driver.launch_app(DEMO)
    assert "Welcome, Demo!" in texts(driver)
    driver.launch_app(DEMO, clear_state=True)
    assert "Sign in" in texts(driver) and "Welcome, Demo!" not in texts(driver)


def test_home_then_launch_resumes_the_screen(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.launch_app(SETTINGS)
    tap(driver, text="About phone")
    driver.press_key("home")
    assert driver.foreground_package() == LAUNCHER
    tap(driver, text="Settings")
    assert "Android version" in texts(driver)


def test_list_shows_only_rows_inside_the_viewport(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    nodes = parse(driver.dump_ui())
    (items,) = find_nodes(nodes, {"id": "items"})
    assert items.scrollable
    rows = [n for n in nodes if n.resource_id.endswith(":id/item")]
    assert rows[0].text == "Item 1"
    assert 12 <= len(rows) <= 13
    assert all(items.bounds[1] <= r.bounds[1] < r.bounds[3] <= items.bounds[3] for r in rows)


def test_swipe_scrolls_and_clamps_at_both_ends(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    first = driver.dump_ui()
    driver.swipe(540, 1500, 540, 1350, 300)
    assert one(driver, text="Item 2").bounds[1] == one(driver, id="items").bounds[1]
    for _ in range(10):
        driver.swipe(540, 2000, 540, 600, 300)
    end = driver.dump_ui()
    assert "Item 40" in texts(driver) and "Item 1" not in texts(driver)
    assert one(driver, text="Item 40").bounds[3] == one(driver, id="items").bounds[3]
    driver.swipe(540, 2000, 540, 600, 300)
    assert driver.dump_ui() == end
    for _ in range(10):
        driver.swipe(540, 600, 540, 2000, 300)
    assert driver.dump_ui() == first


def test_swipe_outside_a_list_and_tap_on_empty_space_change_nothing(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    before = driver.dump_ui()
    driver.swipe(540, 200, 540, 100, 300)
    driver.tap(1070, 2390)
    assert driver.dump_ui() == before
    assert [entry["op"] for entry in driver.action_log()[-2:]] == ["swipe", "tap"]


def test_every_key_is_accepted(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.launch_app(SETTINGS)
    for key in KEYS:
        if key not in ("back", "home"):
            driver.press_key(key)
    assert driver.foreground_package() == SETTINGS
    with pytest.raises(UnsupportedInput):
        driver.press_key("warp")


def test_unknown_package_is_not_installed(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    for call in (
        lambda: driver.launch_app("com.example.nothing"),
        lambda: driver.stop_app("com.example.nothing"),
    ):
        with pytest.raises(AppNotInstalled) as info:
            call()
        assert info.value.code == "app_not_installed" and not info.value.retryable
    assert driver.action_log() == []


def test_state_survives_a_new_driver_instance(tmp_path):
    sign_in(SimDriver("sim-1", tmp_path))
    again = SimDriver("sim-1", tmp_path)
    assert again.foreground_package() == DEMO
    assert "Welcome, Demo!" in texts(again)
    assert SimDriver("sim-2", tmp_path).foreground_package() == LAUNCHER
    assert json.loads((tmp_path / "sim-1.json").read_text())["foreground"] == DEMO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim-1.json", "sim-1.logcat"]  # its state, its log


def test_a_driver_reloads_changes_made_behind_its_back(tmp_path):
    first, second = SimDriver("sim-1", tmp_path), SimDriver("sim-1", tmp_path)
    assert first.foreground_package() == LAUNCHER
    second.launch_app(SETTINGS)
    assert first.foreground_package() == SETTINGS
    first.press_key("home")
    assert second.foreground_package() == LAUNCHER
    assert [entry["n"] for entry in second.action_log()] == [1, 2]


def test_reset_deletes_the_file_and_the_phone_starts_fresh(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    sign_in(driver)
    reset_sim_device("sim-1", tmp_path)
    assert not (tmp_path / "sim-1.json").exists()
    assert driver.foreground_package() == LAUNCHER
    assert driver.action_log() == []
    driver.launch_app(DEMO)
    assert "Sign in" in texts(driver)
    reset_sim_device("never-used", tmp_path)


def test_action_log_counts_mutating_primitives_exactly(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.wake()
    driver.launch_app(DEMO)
    driver.dump_ui()
    driver.screenshot()
    driver.foreground_package()
    driver.tap(540, 600)
    driver.input_text("a")
    driver.long_press(1, 2, 800)
    driver.swipe(1, 2, 3, 4, 300)
    driver.press_key("del")
    driver.stop_app(DEMO)
    assert driver.action_log() == [
        {"n": 1, "op": "wake", "args": {}},
        {"n": 2, "op": "launch_app", "args": {"package": DEMO, "clear_state": False}},
        {"n": 3, "op": "tap", "args": {"x": 540, "y": 600}},
        {"n": 4, "op": "input_text", "args": {"text": "a"}},
        {"n": 5, "op": "long_press", "args": {"x": 1, "y": 2, "duration_ms": 800}},
        {"n": 6, "op": "swipe", "args": {"x1": 1, "y1": 2, "x2": 3, "y2": 4, "duration_ms": 300}},
        {"n": 7, "op": "press_key", "args": {"key": "del"}},
        {"n": 8, "op": "stop_app", "args": {"package": DEMO}},
    ]
    assert SimDriver("sim-1", tmp_path).action_log() == driver.action_log()


def test_action_log_keeps_the_last_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_device, "LOG_LIMIT", 3)
    driver = SimDriver("sim-1", tmp_path)
    for _ in range(5):
        driver.press_key("volume_up")
    assert [entry["n"] for entry in driver.action_log()] == [3, 4, 5]
    assert [entry["n"] for entry in SimDriver("sim-1", tmp_path).action_log()] == [3, 4, 5]


def test_screenshot_is_a_deterministic_png_of_the_screen(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    driver.launch_app(SETTINGS)
    png = driver.screenshot()
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1080, 2400)
    assert SimDriver("sim-1", tmp_path).screenshot() == png
    tap(driver, id="wifi_switch")
    assert driver.screenshot() != png
    tap(driver, id="wifi_switch")
    assert driver.screenshot() == png


def test_dark_theme_changes_every_screenshot(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    light = driver.screenshot()
    driver.launch_app(SETTINGS)
    tap(driver, id="dark_theme_switch")
    driver.press_key("home")
    dark = driver.screenshot()
    assert dark != light
    assert Image.open(io.BytesIO(dark)).convert("RGB").getpixel((10, 40)) != (
        Image.open(io.BytesIO(light)).convert("RGB").getpixel((10, 40))
    )


def test_unusable_serial_is_refused(tmp_path):
    with pytest.raises(ValueError):
        SimDriver("../escape", tmp_path)
