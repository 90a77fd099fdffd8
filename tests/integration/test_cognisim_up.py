"""`cognisim up` is the product: one command brings up Redis, the database, workers and the web server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from cognisim_site.redis_server import free_port
from tests.live import Rest, Socket, session_status, step_done

pytestmark = pytest.mark.integration


def test_up_starts_everything_and_ctrl_c_stops_it(tmp_path):
    """Ctrl-C in a terminal signals every process of the foreground group at once: the workers still finish
    the step's drain against Redis, which stops after them, so the log holds no error."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COGNISIM_HOME"] = str(tmp_path)  # SQLite and a private Redis: a machine with nothing running
    log = (tmp_path / "stderr.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "cognisim_site.cli", "up", "--port", str(port), "--sim-devices", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        lines = []
        for line in up.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        token = re.search(r"API token: (\w+)", output).group(1)
        redis_port = int(re.search(r"private Redis on 127.0.0.1:(\d+)", output).group(1))
        assert f"http://127.0.0.1:{port}/" in output and re.search(r"demo / \S+", output)

        rest = Rest(f"http://127.0.0.1:{port}", token)
        assert [d["serial"] for d in rest.get("/api/devices/").body] == ["sim-1"]
        session = rest.post("/api/sessions/", {"app": {"package": "com.cognisim.demo"}}).body
        sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
        sock.wait_for(session_status("READY"), timeout=30)
        sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "assert_visible", "id": "sign_in"}})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED"
    finally:
        os.killpg(up.pid, signal.SIGINT)  # the step's drain still lingers, listening on Redis
    assert sock.close_code(timeout=20) == 1001, "the socket, still open, is closed as going away, not dropped"
    assert up.wait(timeout=30) == 0
    for closed_port in (port, redis_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", closed_port), timeout=1).close()
    errors = [
        line
        for line in (tmp_path / "stderr.log").read_text().splitlines()
        if re.search(r"ERROR|CRITICAL|Traceback|refused", line)
    ]
    assert not errors, errors


def test_ctrl_c_stops_up_started_in_the_background(tmp_path):
    """A shell's background job inherits SIGINT ignored; `cognisim up` still stops on it."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COGNISIM_HOME"] = str(tmp_path)
    up = subprocess.Popen(
        [sys.executable, "-m", "cognisim_site.cli", "up", "--port", str(free_port()), "--sim-devices", "1"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert any("Press Ctrl-C" in line for line in up.stdout)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
        assert "Stopping" in up.stdout.read()
    finally:
        if up.poll() is None:  # SIGTERM: its children stop with it
            up.terminate()
            up.wait(timeout=60)


def test_up_that_times_out_says_what_did_not_answer_and_exits_1(tmp_path):
    """A loaded machine: the web server takes longer than `--wait`. One line, what and where, exit 1, no
    traceback, and nothing left running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COGNISIM_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cognisim_site.cli", "up", "--port", str(port), "--sim-devices", "1", "--wait", "0.3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"cognisim up: (the web server|the private Redis) did not answer on 127\.0\.0\.1:\d+ within 0\.3 s; its log "
        r"is above, on this command's standard error\. On a loaded machine, try a longer wait: cognisim up --wait 120",
        last,
    ), last
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_waiting_for_a_port_reports_progress_then_times_out():
    from cognisim_site.processes import PortTimeout, wait_for_port

    seen: list[float] = []
    with pytest.raises(PortTimeout):
        wait_for_port("127.0.0.1", free_port(), timeout=0.5, progress=seen.append, every=0.1)
    assert len(seen) >= 3 and seen == sorted(seen)
