"""A session's recording: a WebM video (VP8, through PyAV, whose wheels carry FFmpeg and libvpx) of the
screens its device showed, each from the moment its `SCREEN` event says it appeared.

The frames are the pictures the session keeps anyway (one per distinct screen, `Screen`), in the order and
at the times of the session's `SCREEN` events, so a recording costs nothing while the session runs: it is
made when asked for (`GET /api/sessions/{id}/recording.webm`), kept in the artifact storage, and made again
only when the session has shown screens since. The video's timestamps are the events' (variable frame
rate, milliseconds); the last screen is held until the session ended (or until now, at most HOLD_S).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import av
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from PIL import Image

from core.errors import NotFound
from core.storage import artifact_name, artifact_read, artifact_save

from ..models import Artifact, Screen, SessionEvent, TestSession
from ..selectors import artifact_bytes, session_get

MAX_HEIGHT = 1280
HOLD_S = 2.0
MAX_FRAMES = 10_000
ENCODER = {"deadline": "realtime", "cpu-used": "8", "threads": "1", "b": "1M"}
"""VP8 as fast as it goes, on one thread: a few tens of milliseconds a frame on a busy machine."""


def recording_frames(*, session: TestSession) -> list[tuple[datetime, str]]:
    """(when, screen hash) of every screen the session's device showed, in order."""
    events = SessionEvent.objects.filter(session=session, type=SessionEvent.Type.SCREEN).order_by("seq")
    return [(at, payload["screen"]) for at, payload in events.values_list("created_at", "payload")[:MAX_FRAMES]]


def video_encode(frames: list[tuple[float, bytes]], *, end: float) -> tuple[bytes, int]:
    """A WebM of PNG `frames` at their times (seconds from the first), the last held until `end`: its bytes
    and its number of frames."""
    first = Image.open(io.BytesIO(frames[0][1]))
    scale = min(1.0, MAX_HEIGHT / first.height)
    size = (int(first.width * scale) // 2 * 2, int(first.height * scale) // 2 * 2)
    out = io.BytesIO()
    millis = Fraction(1, 1000)
    count = 0
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=30, options=ENCODER)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.time_base = millis
        shown = [*frames, (max(end, frames[-1][0] + 0.001), frames[-1][1])]
        last_pts = -1
        pictures: dict[int, Image.Image] = {}  # a screen shown again is decoded once (the same bytes)
        for at, png in shown:
            pts = max(int(at * 1000), last_pts + 1)
            image = pictures.get(id(png))
            if image is None:
                image = Image.open(io.BytesIO(png)).convert("RGB")
                image = pictures[id(png)] = image if image.size == size else image.resize(size)
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base, last_pts = pts, millis, pts
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))
    return out.getvalue(), count


def recording_make(*, session_id: Any) -> Artifact | None:
    """The session's recording, made now if the one kept does not cover the session's last event; None when
    the device showed nothing yet."""
    session = TestSession.objects.get(pk=session_id)
    kept = Artifact.objects.filter(session=session, kind=Artifact.Kind.RECORDING).order_by("-id").first()
    if kept is not None and kept.upto_seq >= session.last_seq:
        return kept
    upto = session.last_seq
    shown = recording_frames(session=session)
    pictures = dict(
        Screen.objects.filter(session=session, screen_hash__in={h for _, h in shown})
        .exclude(picture="")
        .values_list("screen_hash", "picture")
    )
    shown = [(at, screen) for at, screen in shown if screen in pictures]
    if not shown:
        return None
    start = shown[0][0]
    cache: dict[str, bytes] = {}
    frames = []
    for at, screen in shown:
        if screen not in cache:
            cache[screen] = artifact_read(name=pictures[screen])
        frames.append(((at - start).total_seconds(), cache[screen]))
    end = session.ended_at or min(timezone.now(), shown[-1][0] + timedelta(seconds=HOLD_S))
    video, count = video_encode(frames, end=(end - start).total_seconds())
    name = artifact_save(name=artifact_name(session.pk, "recording.webm"), content=video)
    made = Artifact.objects.create(
        session=session, kind=Artifact.Kind.RECORDING, file=name, size=len(video), frames=count, upto_seq=upto
    )
    Artifact.objects.filter(session=session, kind=Artifact.Kind.RECORDING).exclude(pk=made.pk).delete()
    return made


def recording_get(*, owner: AbstractBaseUser, session_id: Any) -> bytes:
    """The recording of one of the owner's sessions (made or brought up to date first), as WebM bytes."""
    session = session_get(owner=owner, session_id=session_id)
    made = recording_make(session_id=session.pk)
    if made is None:
        raise NotFound(
            "There is nothing to record: the device has shown no screen in this session yet, or the pictures of "
            "its screens are no longer kept (retention, docs/settings.md)."
        )
    return artifact_bytes(name=made.file.name, what="recording")
