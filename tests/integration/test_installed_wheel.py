"""A built wheel serves on its own, and a missing extra is named in one line, exit status 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE",
    "infra", "roomcast", "roomcast_client",
]
STARTUP_SECONDS = 30
SHIPPED_TEMPLATE = Path("roomcast", "entrypoints", "gateway", "template.yaml")
NO_CACHES = shutil.ignore_patterns("__pycache__")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """roomcast's wheel, built from a copy of the sources and installed into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=NO_CACHES)
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", work / "dist", source], check=True)
    wheel = next((work / "dist").glob("roomcast-*.whl"))
    target = work / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", target, wheel], check=True)
    return target


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    """`roomcast serve --port 0` from the installed wheel (-P: the sources stay off sys.path)."""
    output = tmp_path / "output.txt"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "roomcast.entrypoints.cli", "serve", "--port", "0"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
            stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        yield _banner(output, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def _banner(output: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        text = output.read_text()
        if "Press Ctrl-C" in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"roomcast serve did not start:\n{output.read_text()}")


def url_in(banner: str, label: str) -> str:
    line = next(line for line in banner.splitlines() if line.strip().startswith(label))
    return line.split()[-1]


class TestAnInstallHarmsNothingElse:
    def test_the_wheel_takes_only_roomcasts_own_import_names(self, installed: Path) -> None:
        tops = {path.name for path in installed.iterdir() if not path.name.endswith("-info")}
        assert tops - {"bin"} == {"roomcast", "roomcast_client"}

    def test_the_entrypoints_distribution_still_imports_as_itself(self, installed: Path) -> None:
        """`entrypoints` (0.4, a dependency of older flake8 and nbconvert) is in `.[dev]`."""
        probe = (
            "import entrypoints, roomcast.entrypoints.cli.main;"
            " print(callable(entrypoints.get_group_all), entrypoints.__file__)"
        )
        finished = subprocess.run(
            [sys.executable, "-P", "-c", probe], cwd=installed.parent,
            env={**os.environ, "PYTHONPATH": str(installed)},
            capture_output=True, text=True, timeout=60, check=True,
        )
        is_callable, location = finished.stdout.split()
        assert is_callable == "True"
        assert not Path(location).is_relative_to(installed)


class TestInstalledWheel:
    def test_serve_reads_the_template_shipped_in_the_package(
        self, served: str, installed: Path
    ) -> None:
        first_line = served.splitlines()[0]
        assert first_line.endswith(str(installed / SHIPPED_TEMPLATE))

    def test_the_template_shipped_is_infra_template_yaml(self, installed: Path) -> None:
        shipped = installed / SHIPPED_TEMPLATE
        assert shipped.read_bytes() == (ROOT / "infra" / "template.yaml").read_bytes()

    def test_the_installed_gateway_serves_the_page_and_runs_the_handlers(
        self, served: str
    ) -> None:
        with urllib.request.urlopen(url_in(served, "Chat page:"), timeout=10) as page:
            assert b"roomcast" in page.read()
        with connect(url_in(served, "WebSocket:") + "?userId=wendy") as websocket:
            websocket.send(json.dumps({"action": "joinRoom", "roomId": "wheel"}))
            joined = json.loads(websocket.recv(timeout=10))
        assert (joined["action"], joined["members"]) == ("joinedRoom", ["wendy"])


class TestMissingExtra:
    @pytest.mark.parametrize(
        ("module", "distribution"), [("yaml", "PyYAML"), ("aiohttp", "aiohttp")]
    )
    def test_serve_without_the_serve_extra_names_it_in_one_line(
        self, module: str, distribution: str
    ) -> None:
        hide = f"import sys; sys.modules[{module!r}] = None"
        serve = (
            "from roomcast.entrypoints.cli.main import main;"
            " sys.exit(main(['serve', '--port', '0']))"
        )
        finished = subprocess.run(
            [sys.executable, "-c", f"{hide}; {serve}"], cwd=ROOT, capture_output=True, text=True,
            timeout=60,
        )
        assert finished.returncode == 2
        assert finished.stderr.splitlines() == [
            f"roomcast serve: {distribution} is not installed: pip install 'roomcast[serve]'"
        ]

    def test_the_client_without_websockets_names_its_extra(self) -> None:
        hide = "import sys; sys.modules['websockets'] = None"
        finished = subprocess.run(
            [sys.executable, "-c", f"{hide}; import roomcast_client"], cwd=ROOT,
            capture_output=True, text=True, timeout=60,
        )
        assert finished.returncode == 1
        assert finished.stderr.splitlines()[-1] == (
            "ModuleNotFoundError: roomcast_client: websockets is not installed: "
            "pip install 'roomcast[client]'"
        )
