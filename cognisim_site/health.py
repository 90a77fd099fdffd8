"""Probes and metrics for whoever runs CogniSim: `/healthz`, `/readyz`, `/metrics`.

- `/healthz`: the process answers. No database, no Redis: a liveness probe must not restart a web
  server because PostgreSQL is away.
- `/readyz`: the database answers, Redis answers, and every device that is not offline has a live
  worker on its queue (the registry of devices/workers.py). The
  answer is cached for READYZ_CACHE_SECONDS, so a probe every second costs one check.
- `/metrics`: Prometheus text. Counters and histograms come from every process through the
  multiprocess directory (core/metrics.py); gauges are read from the database and Redis at scrape
  time. Allowed with `Authorization: Bearer $METRICS_TOKEN`, or from METRICS_ALLOW_FROM networks.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from devices.models import Device
from devices.workers import registry_redis, workers_alive
from sessions.models import TestSession

EXTRA_QUEUES = ("control", "agents")  # the queues of the server-side workers, when they exist


# Readiness.


def _timed(check: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = {"ok": True, **(check() or {})}
    except Exception as exc:  # a probe reports what failed; it never raises
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    registry_redis().ping()


def _check_workers() -> dict[str, Any]:
    queues = [
        f"device-{serial}"
        for serial in Device.objects.exclude(status=Device.Status.OFFLINE).values_list("serial", flat=True)
    ]
    alive = workers_alive(queues) if queues else {}
    missing = sorted(queue for queue, count in alive.items() if not count)
    if missing:
        raise RuntimeError(f"no live worker on {', '.join(missing)}")
    return {"queues": len(queues)}


_cache_lock = threading.Lock()
_cached: tuple[float, dict[str, Any]] | None = None


def readiness() -> dict[str, Any]:
    """The checks, at most once per READYZ_CACHE_SECONDS in this process."""
    global _cached
    with _cache_lock:
        now = time.monotonic()
        if _cached is not None and now - _cached[0] < settings.READYZ_CACHE_SECONDS:
            return _cached[1]
        checks = {"database": _timed(_check_database), "redis": _timed(_check_redis)}
        if checks["database"]["ok"] and checks["redis"]["ok"]:
            checks["workers"] = _timed(_check_workers)
        else:
            checks["workers"] = {"ok": False, "error": "not checked: the database or Redis is away"}
        report = {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
        _cached = (now, report)
        return report


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "pid": os.getpid()})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    report = readiness()
    return JsonResponse(
        {"status": "ready" if report["ready"] else "not_ready", **report}, status=200 if report["ready"] else 503
    )


# Metrics.


class ScrapeTimeCollector(Collector):
    """Gauges read from the source of truth when Prometheus scrapes."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sessions = GaugeMetricFamily("cognisim_sessions", "Sessions by status.", labels=["status"])
        counts = dict(TestSession.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in TestSession.Status.values:
            sessions.add_metric([status], counts.get(status, 0))
        yield sessions

        devices = GaugeMetricFamily("cognisim_devices", "Devices by state.", labels=["state", "transport"])
        rows = list(Device.objects.values_list("serial", "status", "transport"))
        by_state: dict[tuple[str, str], int] = {}
        for _, status, transport in rows:
            by_state[(status, transport)] = by_state.get((status, transport), 0) + 1
        for status in Device.Status.values:
            for transport in Device.Transport.values:
                devices.add_metric([status, transport], by_state.get((status, transport), 0))
        yield devices

        queues = [f"device-{serial}" for serial, _, _ in rows] + list(EXTRA_QUEUES)
        pipe = registry_redis().pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        depth = GaugeMetricFamily(
            "cognisim_queue_depth", "Tasks waiting in a Celery queue (Redis LLEN).", labels=["queue"]
        )
        for queue, length in zip(queues, pipe.execute(), strict=True):
            depth.add_metric([queue], length)
        yield depth

        alive = GaugeMetricFamily("cognisim_workers_alive", "Workers that beat recently, by queue.", labels=["queue"])
        for queue, count in workers_alive(queues).items():
            alive.add_metric([queue], count)
        yield alive


def metrics_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's samples (or this process's, without the directory) and the gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(ScrapeTimeCollector())
    return registry


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def _client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    try:
        address = ipaddress.ip_address(_client_address(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOW_FROM)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return JsonResponse(
            {
                "code": "forbidden",
                "message": "Metrics need 'Authorization: Bearer <METRICS_TOKEN>' or an address in METRICS_ALLOW_FROM.",
            },
            status=403,
        )
    body = generate_latest(metrics_registry())
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")
