"""Cold import of the Lambda handlers, against a seed-style module that builds its boto3
clients at import time. Both run in fresh interpreters that see only the packages the
Lambda artifact ships (infra/lambda-requirements.txt, installed for this machine's
platform into build/bench-artifact) plus roomcast's own: no venv site-packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.timing import Ratio, compare

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / "build" / "bench-artifact"
REQUIREMENTS = ROOT / "infra" / "lambda-requirements.txt"

HANDLERS = "import entrypoints.handlers"
SEED_STYLE = (
    "import boto3\n"
    "dynamodb = boto3.client('dynamodb', region_name='us-east-1')\n"
    "management = boto3.client('apigatewaymanagementapi', region_name='us-east-1',"
    " endpoint_url='https://example.execute-api.us-east-1.amazonaws.com/dev')\n"
)


def _artifact_packages() -> Path:
    stamp = ARTIFACT / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--target", str(ARTIFACT), "--upgrade", "-r", str(REQUIREMENTS)],
            check=True,
        )
        stamp.write_text(wanted)
    return ARTIFACT


def _fresh_interpreter(code: str, artifact: Path) -> None:
    # -S: no site-packages, so only the artifact's packages and roomcast's are importable.
    prelude = f"import sys; sys.path[:0] = [{str(artifact)!r}, {str(ROOT)!r}]\n"
    subprocess.run([sys.executable, "-S", "-c", prelude + code], check=True)


def cold_import() -> Ratio:
    artifact = _artifact_packages()
    return compare(
        "cold import of entrypoints.handlers",
        lambda: _fresh_interpreter(HANDLERS, artifact),
        lambda: _fresh_interpreter(SEED_STYLE, artifact),
        "seed-style: boto3 clients at import",
    )
