"""The adb-speaking simulated phone: through the real adb binary, and frame by frame over a raw socket."""

from __future__ import annotations

import io
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from devices.actions import perform
from devices.adbsim import AdbSimPhone
from devices.adbsim import protocol as p
from devices.adbsim.shell import ShellSyntaxError, parse
from devices.drivers.sim import DEMO, SETTINGS

# --- through the real adb binary -------------------------------------------------------------


def test_adb_lists_the_phone_with_its_banner(adb_server, start_phone):
    phone, serial = start_phone()
    listing = adb_server.text("devices", "-l")
    line = next(line for line in listing.splitlines() if line.startswith(serial))
    assert "device product:cognisim_phone model:CogniSim_Virtual_Phone device:cognisim" in " ".join(line.split())
    assert adb_server.text("-s", serial, "get-state").strip() == "device"
    assert adb_server.text("-s", serial, "features").strip() == ""


def test_shell_input_tap_goes_through_the_sim_driver(adb_server, start_phone):
    phone, serial = start_phone()
    assert adb_server.run("-s", serial, "shell", "input", "tap", "180", "400").stdout == b""
    assert phone.driver.action_log() == [{"n": 1, "op": "tap", "args": {"x": 180, "y": 400}}]
    focus = adb_server.text("-s", serial, "shell", "dumpsys", "window")
    assert f"mCurrentFocus=Window{{5e1f0c2 u0 {SETTINGS}/" in focus


def test_uiautomator_dump_then_cat(adb_server, start_phone):
    phone, serial = start_phone()
    dumped = adb_server.text("-s", serial, "shell", "uiautomator", "dump")
    assert dumped == "UI hierchary dumped to: /sdcard/window_dump.xml\n"
    assert adb_server.text("-s", serial, "shell", "cat", "/sdcard/window_dump.xml") == phone.driver.dump_ui()
    tty = adb_server.text("-s", serial, "shell", "uiautomator", "dump", "/dev/tty")
    assert tty == phone.driver.dump_ui() + "UI hierchary dumped to: /dev/tty\n"
    adb_server.run("-s", serial, "shell", "rm", "/sdcard/window_dump.xml")
    gone = adb_server.text("-s", serial, "shell", "cat /sdcard/window_dump.xml; echo $?")
    assert gone == "cat: /sdcard/window_dump.xml: No such file or directory\n1\n"


def test_exec_out_screencap_is_the_screen_as_png(adb_server, start_phone):
    phone, serial = start_phone()
    png = adb_server.run("-s", serial, "exec-out", "screencap", "-p").stdout
    assert png == phone.driver.screenshot()
    assert Image.open(io.BytesIO(png)).size == (1080, 2400)
    assert phone.driver.action_log() == []


def test_getprop_and_wm_size(adb_server, start_phone):
    phone, serial = start_phone("props-1")

    def shell(*args: str) -> str:
        return adb_server.text("-s", serial, "shell", *args)

    assert shell("getprop", "ro.product.model") == "CogniSim Virtual Phone\n"
    assert shell("getprop", "ro.build.version.release") == "14\n"
    assert shell("getprop", "ro.serialno") == "props-1\n"
    assert shell("wm", "size") == "Physical size: 1080x2400\n"
    assert "[ro.serialno]: [props-1]" in shell("getprop")


def test_shell_exit_status_and_unknown_commands(adb_server, start_phone):
    phone, serial = start_phone()

    def shell(line: str) -> str:
        return adb_server.text("-s", serial, "shell", line)

    assert shell("nosuch --flag; echo $?") == "/system/bin/sh: nosuch: not found\n127\n"
    assert shell("false || echo 'or else'; true && echo \"and $?\"") == "or else\nand 0\n"
    assert shell("echo a | cat").startswith("/system/bin/sh: syntax error:")
    assert shell("pm list packages demo") == f"package:{DEMO}\n"
    assert shell("pm path com.example.nope; echo $?") == "1\n"


def test_launch_stop_and_clear_through_am_monkey_and_pm(adb_server, start_phone):
    phone, serial = start_phone()

    def shell(line: str) -> str:
        return adb_server.text("-s", serial, "shell", line)

    assert shell(f"am start -n {DEMO}/.MainActivity") == f"Starting: Intent {{ cmp={DEMO}/.MainActivity }}\n"
    assert phone.driver.foreground_package() == DEMO
    shell(f"am force-stop {DEMO}")
    assert shell(f"pm clear {DEMO}") == "Success\n"
    launched = shell(f"monkey -p {DEMO} -c android.intent.category.LAUNCHER 1; echo $?")
    assert "Events injected: 1" in launched and launched.endswith("\n0\n")
    assert shell("monkey -p com.example.nope -c android.intent.category.LAUNCHER 1; echo $?").endswith(
        "** No activities found to run, monkey aborted.\n251\n"
    )
    assert [(entry["op"], entry["args"]) for entry in phone.driver.action_log()] == [
        ("launch_app", {"package": DEMO, "clear_state": False}),
        ("stop_app", {"package": DEMO}),
        ("stop_app", {"package": DEMO, "clear_state": True}),  # at once: the app's next start, however made,
        ("launch_app", {"package": DEMO, "clear_state": False}),  # finds it clean
    ]


def test_pm_clear_signs_the_app_out_however_it_starts_next(adb_server, start_phone):
    """Started from its launcher icon after a `pm clear` (not by `am start` or `monkey`), the app is clean."""
    phone, serial = start_phone()
    driver = phone.driver
    driver.launch_app(DEMO, clear_state=True)
    for action, params in (
        ("type", {"text": "demo@example.com", "into": {"id": "email"}}),
        ("type", {"text": "secret123", "into": {"id": "password"}}),
        ("tap", {"id": "sign_in"}),
    ):
        perform(driver, action=action, params=params, deadline=time.monotonic() + 10)
    assert "Welcome, Demo!" in driver.dump_ui()
    assert adb_server.text("-s", serial, "shell", f"pm clear {DEMO}") == "Success\n"
    driver.press_key("home")
    driver.launch_app(DEMO)  # what a tap on its launcher icon does
    assert "Welcome, Demo!" not in driver.dump_ui() and "Sign in" in driver.dump_ui()


def test_input_text_decodes_percent_s_and_refuses_what_the_key_map_lacks(adb_server, start_phone):
    phone, serial = start_phone()
    phone.driver.launch_app(DEMO)
    phone.driver.tap(540, 600)
    adb_server.run("-s", serial, "shell", "input text 'a%sb'\\''c\"$HOME'")
    refused = adb_server.text("-s", serial, "shell", "input text é; echo $?")
    assert refused.startswith("Exception occurred while executing 'text':") and refused.endswith("\n255\n")
    typed = [entry["args"]["text"] for entry in phone.driver.action_log() if entry["op"] == "input_text"]
    assert typed == ["a b'c\"$HOME"]


def test_several_streams_at_once(adb_server, start_phone):
    phone, serial = start_phone()
    expected_png = phone.driver.screenshot()

    def screencap(_: int) -> bytes:
        return adb_server.run("-s", serial, "exec-out", "screencap", "-p").stdout

    def model(_: int) -> str:
        return adb_server.text("-s", serial, "shell", "getprop", "ro.product.model")

    with ThreadPoolExecutor(8) as pool:
        shots, models = list(pool.map(screencap, range(6))), list(pool.map(model, range(6)))
    assert shots == [expected_png] * 6
    assert models == ["CogniSim Virtual Phone\n"] * 6


# --- frame by frame ----------------------------------------------------------------------------


def test_framing_magic_and_checksum():
    frame = p.pack(p.Message(p.A_WRTE, 7, 9, b"hello"))
    command, arg0, arg1, length, check, magic = struct.unpack("<6I", frame[:24])
    assert (command, arg0, arg1, length, frame[24:]) == (p.A_WRTE, 7, 9, 5, b"hello")
    assert check == sum(b"hello") and magic == p.A_WRTE ^ 0xFFFFFFFF
    assert struct.unpack("<6I", p.pack(p.Message(p.A_WRTE, 7, 9, b"hello"), with_checksum=False)[:24])[4] == 0
    assert p.parse_header(frame[:24]) == (p.A_WRTE, 7, 9, 5, check)
    with pytest.raises(p.ProtocolError, match="magic"):
        p.parse_header(frame[:20] + struct.pack("<I", magic ^ 1))
    with pytest.raises(p.ProtocolError, match="Unknown command"):
        p.parse_header(struct.pack("<6I", 0x41414141, 0, 0, 0, 0, 0x41414141 ^ 0xFFFFFFFF))
    with pytest.raises(p.ProtocolError, match="limit"):
        p.parse_header(frame[:24], max_payload=4)


class RawHost:
    """The host side of the transport, by hand."""

    def __init__(self, phone: AdbSimPhone) -> None:
        self.sock = socket.create_connection(("127.0.0.1", phone.port), timeout=5)

    def send(self, message: p.Message, *, with_checksum: bool = True) -> None:
        self.sock.sendall(p.pack(message, with_checksum=with_checksum))

    def read(self) -> p.Message:
        return p.read_message(self.sock, verify_checksum=False)

    def connect(self, maxdata: int = p.MAX_PAYLOAD) -> p.Message:
        self.send(p.Message(p.A_CNXN, p.VERSION_SKIP_CHECKSUM, maxdata, b"host::features=shell_v2\0"))
        return self.read()

    def closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


@pytest.fixture
def phone(tmp_path):
    with AdbSimPhone("raw-1", tmp_path) as phone:
        yield phone


def test_cnxn_then_a_shell_stream(phone):
    host = RawHost(phone)
    reply = host.connect()
    assert (reply.command, reply.arg0, reply.arg1) == (p.A_CNXN, p.VERSION_SKIP_CHECKSUM, p.MAX_PAYLOAD)
    assert reply.data.startswith(b"device::ro.product.name=cognisim_phone;") and reply.data.endswith(b"features=")
    host.send(p.Message(p.A_OPEN, 5, 0, b"shell:echo hi\0"))
    okay = host.read()
    assert (okay.command, okay.arg1) == (p.A_OKAY, 5) and okay.arg0 != 0
    assert host.read() == p.Message(p.A_WRTE, okay.arg0, 5, b"hi\n")
    host.send(p.Message(p.A_OKAY, 5, okay.arg0))
    assert host.read() == p.Message(p.A_CLSE, okay.arg0, 5)
    host.send(p.Message(p.A_OPEN, 6, 0, b"framebuffer:\0"))
    assert host.read() == p.Message(p.A_CLSE, 0, 6)
    host.send(p.Message(p.A_OPEN, 7, 0, b"tcp:9008\0"))  # nothing listens there yet
    assert host.read() == p.Message(p.A_CLSE, 0, 7)


def test_one_write_in_flight_per_stream_and_streams_interleave(phone):
    host = RawHost(phone)
    host.connect(maxdata=4096)
    host.send(p.Message(p.A_OPEN, 1, 0, b"exec:screencap -p\0"))
    shot = host.read().arg0
    first = host.read()
    assert first.command == p.A_WRTE and len(first.data) == 4096
    host.send(p.Message(p.A_OPEN, 2, 0, b"shell:getprop ro.serialno\0"))
    assert host.read().command == p.A_OKAY
    other = host.read()
    assert other.arg1 == 2 and other.data == b"raw-1\n"
    png = bytearray(first.data)
    host.send(p.Message(p.A_OKAY, 1, shot))
    while (message := host.read()).command == p.A_WRTE or message.arg1 == 2:
        if message.arg1 == 1:
            png += message.data
            host.send(p.Message(p.A_OKAY, 1, shot))
    assert message == p.Message(p.A_CLSE, shot, 1)
    assert bytes(png) == phone.driver.screenshot()


def test_messages_before_cnxn_are_ignored(phone):
    host = RawHost(phone)
    host.send(p.Message(p.A_OPEN, 1, 0, b"shell:input tap 1 1\0"))
    assert host.connect().command == p.A_CNXN
    assert phone.driver.action_log() == []


@pytest.mark.parametrize(
    "frame",
    [
        p.pack(p.Message(p.A_CNXN, p.VERSION_MIN, 4096, b"host::"))[:20] + b"\0\0\0\0",
        (lambda frame: frame[:16] + struct.pack("<I", 1) + frame[20:])(
            p.pack(p.Message(p.A_CNXN, p.VERSION_MIN, 4096, b"host::"))
        ),
        struct.pack("<6I", 0x41414141, 0, 0, 0, 0, 0x41414141 ^ 0xFFFFFFFF),
        struct.pack("<6I", p.A_CNXN, p.VERSION_MIN, 4096, 1 << 30, 0, p.A_CNXN ^ 0xFFFFFFFF),
    ],
    ids=["bad-magic", "bad-checksum", "unknown-command", "oversized"],
)
def test_a_malformed_frame_closes_the_connection(phone, frame):
    host = RawHost(phone)
    host.sock.sendall(frame)
    assert host.closed_by_peer()


def test_stop_closes_the_listener_and_every_connection(tmp_path):
    phone = AdbSimPhone("raw-2", tmp_path).start()
    hosts = [RawHost(phone), RawHost(phone)]
    hosts[0].connect()
    phone.stop()
    assert all(host.closed_by_peer() for host in hosts)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", phone.port), timeout=1)


# --- the shell's parsing -----------------------------------------------------------------------


def test_shell_words_quotes_and_operators():
    def argvs(line: str) -> list[tuple[str | None, list[str]]]:
        return [(command.joined_by, command.argv(3)) for command in parse(line)]

    assert argvs("input text 'it'\\''s a %s' \"x $? $UNSET\"") == [(None, ["input", "text", "it's a %s", "x 3 "])]
    assert argvs("a && b || c; d\ne # comment") == [
        (None, ["a"]),
        ("&&", ["b"]),
        ("||", ["c"]),
        (";", ["d"]),
        (";", ["e"]),
    ]
    assert argvs("echo '' $UNSET x\\ y") == [(None, ["echo", "", "x y"])]
    for bad in ("a | b", "a > f", "'open", "a &&", ";", "a;;b", "$(x)", "`x`"):
        with pytest.raises(ShellSyntaxError):
            parse(bad)
