"""Build hook: ship infra/template.yaml inside `roomcast.entrypoints.gateway` in a built wheel.

infra/ stays the only place the template is edited; a wheel (or a non-editable install)
has no infra/ folder, so `roomcast serve` reads this copy instead
(entrypoints/gateway/template.py).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TEMPLATE = Path("infra") / "template.yaml"
PACKAGED_TEMPLATE = Path("roomcast") / "entrypoints" / "gateway" / "template.yaml"


class BuildPyWithTemplate(build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            self.copy_file(str(TEMPLATE), str(Path(self.build_lib) / PACKAGED_TEMPLATE))


setup(cmdclass={"build_py": BuildPyWithTemplate})
