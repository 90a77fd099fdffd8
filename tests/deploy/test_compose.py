"""docker-compose.yml and the Dockerfile, proven without a container engine.

The image's file set is computed as Docker builds it (the Dockerfile's COPY lines, less .dockerignore);
every installed app and every package the code imports must be inside it. Then every service of the
compose file runs as a local process with that service's command and environment — from a copy of
exactly the image's files, against this machine's PostgreSQL (a database of its own) and the compose
file's own Redis command — and a session runs end to end through it, with Flower watching.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from cognisim_site.processes import wait_for_port
from cognisim_site.redis_server import free_port, redis_answers, redis_server_binary
from tests.live import Rest, Socket, step_done, wait_ready

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = sorted(name for name, service in SERVICES.items() if service.get("build"))  # built from the Dockerfile


# The image's file set.


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as Docker reads it: `*` and `?` within a name, `**` across folders, `!` to keep."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep, line = line.startswith("!"), line.lstrip("!").strip("/")
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", line):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        rules.append((keep, re.compile(regex)))
    return rules


def _ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # a folder that matches takes its files
    ignored = False
    for keep, regex in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not keep
    return ignored


def image_files() -> set[str]:
    """Paths (relative to the build context) that the Dockerfile's COPY lines put into the image."""
    rules = _ignore_rules()
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    files: set[str] = set()
    for line in dockerfile.splitlines():
        words = shlex.split(line.strip())
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        for source in sources:
            top = (ROOT / source).resolve()
            found = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file() and ".venv" not in p.parts]
            for path in found:
                relative = path.relative_to(ROOT).as_posix()
                if not _ignored(relative, rules):
                    files.add(relative)
    return files


def _first_party(top: str) -> bool:
    return (ROOT / top / "__init__.py").exists() or (ROOT / f"{top}.py").exists()


def _imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _installed_closure() -> set[str]:
    """The distributions the Dockerfile installs: pyproject's dependencies and Flower's extra, with theirs."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [_requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["flower"]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # a marker this Python does not meet
        for requirement in requirements:
            if "extra ==" not in requirement or 'extra == "redis"' in requirement:  # celery[redis]
                todo.append(_requirement_name(requirement))
    return seen


def test_every_installed_app_and_every_imported_package_is_in_the_image():
    files = image_files()
    assert {"manage.py", "pyproject.toml", "README.md"} <= files
    assert not any(f.startswith(("tests/", ".git/", ".venv/", "bench/")) or "__pycache__" in f for f in files)

    for app in settings.INSTALLED_APPS:
        top = app.split(".")[0]
        if not _first_party(top):
            continue
        spec = importlib.util.find_spec(app.rsplit(".", 1)[0] if app.endswith("Config") else app)
        assert spec and spec.origin, app
        module = Path(spec.origin).resolve().relative_to(ROOT).as_posix()
        assert module in files, f"{app} ({module}) is not in the image"
        tracked = subprocess.run(["git", "ls-files", top], cwd=ROOT, capture_output=True, text=True, check=True)
        missing = sorted(set(tracked.stdout.split()) - files)
        assert not missing, f"{app}: files left out of the image: {missing[:5]}"
    for folder in settings.TEMPLATES[0]["DIRS"]:
        relative = Path(folder).resolve().relative_to(ROOT).as_posix()
        assert any(f.startswith(relative + "/") for f in files), f"templates folder {relative} is not in the image"

    imported: set[str] = set()
    for path in files:
        if path.endswith(".py"):
            imported |= _imports((ROOT / path).read_text())
    installed = _installed_closure()
    providers = importlib.metadata.packages_distributions()
    for top in sorted(imported - set(sys.stdlib_module_names) - {"__future__"}):
        if _first_party(top):
            assert f"{top}/__init__.py" in files or f"{top}.py" in files, f"package {top} is not in the image"
            continue
        distributions = {d.lower().replace("_", "-") for d in providers.get(top, [])}
        assert distributions & installed, f"{top} is imported but the image installs nothing that provides it"


def test_compose_declares_what_a_server_needs():
    assert {"web", "scheduler", "migrate", "redis", "postgres", "flower"} <= SERVICES.keys()
    assert any(name.startswith("worker-sim-") for name in SERVICES)
    assert "--appendonly" in SERVICES["redis"]["command"] and "yes" in SERVICES["redis"]["command"]
    assert SERVICES["flower"]["profiles"] == ["monitor"]
    for name, service in SERVICES.items():
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name
        for dependency in service.get("depends_on", {}).values():
            assert dependency["condition"] in {"service_healthy", "service_completed_successfully"}, name
        if name != "migrate":
            assert service["healthcheck"]["test"][0] == "CMD", name
    for name in OURS:
        if name not in ("migrate", "flower"):
            assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert SERVICES[name]["environment"]["COGNISIM_TASK_EVENTS"] == "1", name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M) and "HEALTHCHECK" in dockerfile


def test_probe_fails_when_nothing_answers_and_refuses_a_bare_call():
    probe = [sys.executable, "-m", "cognisim_site.cli", "probe"]
    closed = subprocess.run([*probe, f"http://127.0.0.1:{free_port()}/healthz"], capture_output=True, timeout=60)
    assert closed.returncode == 1 and b"refused" in closed.stderr.lower()
    assert subprocess.run(probe, capture_output=True, timeout=60).returncode == 2
    sim = [sys.executable, "-m", "cognisim_site.cli", "worker", "--queue", "control", "--sim"]
    assert subprocess.run(sim, capture_output=True, timeout=60).returncode == 2


# The services as local processes.


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg or ""

    value = re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)
    return value.replace("$$", "$")


class LocalCompose:
    """Each compose service as a process: its command, its environment, its ports on free local ports."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.app = tmp / "app"  # the image's /app
        self.data = tmp / "data"  # the `data` volume
        self.data.mkdir()
        for relative in image_files():
            (self.app / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, self.app / relative)
        self.redis_port = free_port()
        self.ports = {"8000": str(free_port()), "5555": str(free_port())}
        self.variables = {"SECRET_KEY": secrets.token_urlsafe(48), "WEB_PROCESSES": "2"}
        self.database_url = database_url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = tmp / "logs"
        self.logs.mkdir()

    def argv(self, words: list[str]) -> list[str]:
        argv = []
        for word in words:
            word = _interpolate(str(word), self.variables)
            for inside, outside in self.ports.items():
                word = re.sub(rf"(^|=|:){inside}(/|$)", rf"\g<1>{outside}\g<2>", word)
            argv.append("127.0.0.1" if word == "0.0.0.0" else word)
        return argv

    def env(self, name: str) -> dict[str, str]:
        """The service's environment; names of other services become this machine's addresses."""
        env = {k: _interpolate(str(v), self.variables) for k, v in SERVICES[name].get("environment", {}).items()}
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        env["DATABASE_URL"] = self.database_url
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        env["REDIS_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        venv_bin = str(Path(sys.executable).parent)
        return {
            **env,
            "COGNISIM_HOME": str(self.data),  # the Dockerfile's ENV
            "PATH": f"{venv_bin}:{os.environ['PATH']}",
            "PYTHONPATH": str(self.app),  # the image's files, not this working tree
            "HOME": str(self.data),
            "LANG": "C.UTF-8",
            "FLOWER_UNAUTHENTICATED_API": "true",  # the test reads Flower's API
        }

    def start(self, name: str, words: list[str] | None = None) -> subprocess.Popen[bytes]:
        argv = self.argv(words if words is not None else SERVICES[name]["command"])
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=self.app, env=self.env(name), stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def run(self, name: str, words: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(words), cwd=self.app, env=self.env(name), capture_output=True, text=True, timeout=timeout
        )

    def start_redis(self) -> None:
        """The compose file's Redis command, on a local port, with its data in a folder of its own."""
        words = SERVICES["redis"]["command"]
        assert words[0] == "redis-server"
        redis_dir = self.data.parent / "redis"
        redis_dir.mkdir()
        argv = [redis_server_binary(), *words[1:], "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        self.procs["redis"] = subprocess.Popen(
            [*argv, "--dir", str(redis_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port("127.0.0.1", self.redis_port, timeout=30, proc=self.procs["redis"])

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own on this machine's server."""
    import psycopg

    admin = os.environ.get("CI_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL answers at the CI address: {exc}")
    name = f"cognisim_compose_{os.getpid()}"
    conn.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


def _get(url: str, timeout: float = 30) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def _until(check: Any, *, timeout: float, what: str, compose: LocalCompose) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in compose.procs.items():
            if name != "migrate" and proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{compose.log(name)}")
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.mark.integration
def test_every_compose_service_runs_and_a_session_goes_end_to_end(tmp_path, database_url):
    compose = LocalCompose(tmp_path, database_url)
    try:
        compose.start_redis()
        assert redis_answers(f"redis://127.0.0.1:{compose.redis_port}/0")

        migrate = compose.start("migrate")  # depends_on: service_completed_successfully
        assert migrate.wait(timeout=300) == 0, compose.log("migrate")
        where = compose.run("web", ["python", "-c", "import runs, ide; print(runs.__file__, ide.__file__)"])
        assert where.returncode == 0 and where.stdout.count(str(compose.app)) == 2, where

        for name in OURS:
            if name != "migrate":
                compose.start(name)
        base = f"http://127.0.0.1:{compose.ports['8000']}"
        wait_for_port("127.0.0.1", int(compose.ports["8000"]), timeout=120, proc=compose.procs["web"])
        devices = sorted(n.removeprefix("worker-") for n in SERVICES if n.startswith("worker-sim-"))

        def ready() -> bool:
            status, body = _get(base + "/readyz")
            return status == 200 and body["checks"]["workers"]["queues"] == len(devices)

        _until(ready, timeout=180, what="/readyz with a live worker on every device", compose=compose)

        for name in OURS:  # every health check compose would run, run here
            test = SERVICES[name].get("healthcheck", {}).get("test")
            if test:
                probe = compose.run(name, test[1:], timeout=120)
                assert probe.returncode == 0, f"{name}'s health check: {probe.stdout}{probe.stderr}"

        # An operator's first user, as `docker compose exec web python manage.py create_api_user …`.
        created = compose.run("web", ["python", "manage.py", "create_api_user", "deployer"])
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        rest = Rest(base, token)
        assert sorted(d["serial"] for d in rest.get("/api/devices/").body) == devices

        opened = rest.post("/api/sessions/", {"device": devices[0]})
        assert opened.status == 201, opened.body
        sock = Socket(f"ws://127.0.0.1:{compose.ports['8000']}/ws/sessions/{opened.body['id']}/", token=token)
        wait_ready(sock, timeout=120)
        step = rest.post(f"/api/sessions/{opened.body['id']}/steps/", {"action": "press_key", "key": "home"})
        assert step.status == 201, step.body
        done = sock.wait_for(step_done(step.body["id"]), timeout=120)
        assert done["status"] == "COMPLETED", done
        sock.close()
        assert rest.post(f"/api/sessions/{opened.body['id']}/stop/").status == 200
        _until(
            lambda: rest.get(f"/api/sessions/{opened.body['id']}/").body["status"] in {"COMPLETED", "CANCELLED"},
            timeout=60,
            what="the session to end",
            compose=compose,
        )

        # Flower watches the stack: it knows the device workers and has seen their tasks.
        flower = f"http://127.0.0.1:{compose.ports['5555']}"

        def flower_saw_the_step() -> bool:
            status, tasks = _get(flower + "/api/tasks")
            return status == 200 and any(t.get("state") == "SUCCESS" for t in tasks.values())

        wait_for_port("127.0.0.1", int(compose.ports["5555"]), timeout=120, proc=compose.procs["flower"])
        rest.post("/api/sessions/", {"device": devices[1]})  # tasks sent while Flower watches
        _until(flower_saw_the_step, timeout=120, what="Flower to see a finished task", compose=compose)
        status, workers = _get(flower + "/api/workers?refresh=1", timeout=60)
        assert status == 200 and any(name.startswith(f"device-{devices[0]}@") for name in workers), workers

        lines = compose.log("web").splitlines()[1:]  # LOG_FORMAT=json (the first may be cut)
        assert lines and all(json.loads(line)["ts"] for line in lines), lines[:3]
    finally:
        compose.stop()
