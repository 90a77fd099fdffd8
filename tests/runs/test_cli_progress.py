"""What `cognisim run` says a run waits for."""

from cognisim_site.runcli.progress import waiting_for


def test_a_run_says_what_it_waits_for_and_nothing_once_its_steps_go():
    run = {"status": "running", "session_status": "PENDING", "device": None}
    assert waiting_for(run) == "waiting for a free device"
    assert waiting_for({**run, "session_status": "SETTING_UP", "device": "sim-1"}) == "setting up sim-1"
    offline = {"code": "device_offline", "message": "Device sim-1 stopped answering."}
    paused = waiting_for({**run, "session_status": "IDLE", "device": "sim-1", "error": offline})
    assert paused == "paused (Device sim-1 stopped answering); it goes on when a device is back"
    assert waiting_for({**run, "session_status": "RUNNING", "device": "sim-1"}) == ""
    assert waiting_for({**run, "status": "passed", "session_status": "COMPLETED"}) == ""
