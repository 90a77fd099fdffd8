"""A session's recording: a WebM of the screens its device showed, at the times it showed them; decoded here."""

from __future__ import annotations

import io

import av
import pytest
from rest_framework.test import APIClient

from sessions.lane import drain as lane
from sessions.models import Artifact, SessionEvent
from sessions.services import recording, step_submit
from tests.sessions.test_services import open_ready


def decoded(video: bytes) -> list[float]:
    """The time of every frame of a video, in seconds."""
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp8" and container.format.name.startswith("matroska")
        return [float(frame.pts * frame.time_base) for frame in container.decode(stream)]


@pytest.mark.django_db
def test_a_recording_has_a_frame_per_screen_shown_at_its_time(user, other_user, device):
    session = open_ready(user, device)
    for step in ({"action": "launch_app", "package": "com.cognisim.demo"}, {"action": "tap", "id": "sign_in"}):
        step_submit(session_id=session.pk, owner=user, data=step)
    step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "home"})
    lane.session_drain(session_id=session.pk)
    screens = list(
        SessionEvent.objects.filter(session=session, type="SCREEN").order_by("seq").values_list("created_at", flat=True)
    )
    assert len(screens) >= 3

    made = recording.recording_make(session_id=session.pk)
    times = decoded(made.file.read())
    assert len(times) == len(screens) + 1 == made.frames  # each screen, and the last one held
    expected = [(at - screens[0]).total_seconds() for at in screens]
    assert times[: len(screens)] == pytest.approx(expected, abs=0.002)
    assert recording.recording_make(session_id=session.pk).pk == made.pk  # nothing new: the same file

    client = APIClient()
    client.force_authenticate(user)
    reply = client.get(f"/api/sessions/{session.pk}/recording.webm")
    assert reply.status_code == 200 and reply["Content-Type"] == "video/webm"
    assert decoded(b"".join(reply.streaming_content) if reply.streaming else reply.content) == times
    step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "back"})
    lane.session_drain(session_id=session.pk)
    again = client.get(f"/api/sessions/{session.pk}/recording.webm")  # a new screen: made again
    assert len(decoded(again.content)) >= len(times)
    assert Artifact.objects.filter(session=session, kind="recording").count() == 1

    client.force_authenticate(other_user)
    assert client.get(f"/api/sessions/{session.pk}/recording.webm").status_code == 404
