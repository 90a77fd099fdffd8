"""What `cognisim run` says a run waits for, and what its summary says of a run that ended."""

from cognisim_site.runcli.progress import Job, waiting_for
from cognisim_site.runcli.reports import summary_lines


def test_a_run_says_what_it_waits_for_and_nothing_once_its_steps_go():
    run = {"status": "running", "session_status": "PENDING", "device": None}
    assert waiting_for(run) == "waiting for a free device"
    assert waiting_for({**run, "session_status": "SETTING_UP", "device": "sim-1"}) == "setting up sim-1"
    offline = {"code": "device_offline", "message": "Device sim-1 stopped answering."}
    paused = waiting_for({**run, "session_status": "IDLE", "device": "sim-1", "error": offline})
    assert paused == "paused (Device sim-1 stopped answering); it goes on when a device is back"
    assert waiting_for({**run, "session_status": "RUNNING", "device": "sim-1"}) == ""
    assert waiting_for({**run, "status": "passed", "session_status": "COMPLETED"}) == ""


def test_the_summary_names_every_failed_step_a_failed_teardown_too():
    def failure(index, label, code, message, file="flows/login.yaml", line=None):
        return {"index": index, "label": label, "file": file, "line": line, "code": code, "message": message}

    steps = [{"status": s, "optional": False} for s in ("passed", "failed", "skipped", "failed")]
    run = {"status": "failed", "name": "Sign in", "steps_total": 4, "device": "sim-1", "steps": steps}
    run["failures"] = [
        failure(1, "assert_visible text=Welcome", "assertion_failed", "Not shown.", line=6),
        failure(3, "launch_app package=com.example.absent", "app_not_installed", "Not installed.", line=9),
    ]
    lines = summary_lines(Job(label="login.yaml", body={}, run=run, started=1.0, ended=3.0))
    assert lines[:3] == [
        "FAILED    login.yaml (Sign in): 1 passed, 2 failed, 1 skipped of 4 in 2.0s on sim-1",
        "    step 2 (flows/login.yaml:6) assert_visible text=Welcome: assertion_failed: Not shown.",
        "    step 4 (flows/login.yaml:9) launch_app package=com.example.absent: app_not_installed: Not installed.",
    ]

    replayed = {**run, "status": "diverged", "failures": [failure(3, "assert_visible", "assertion_failed", "No.", "")]}
    lines = summary_lines(Job(label="bundle.json", body={}, run=replayed), replay=True)
    assert lines[1] == "    step 4 assert_visible: assertion_failed: No."
