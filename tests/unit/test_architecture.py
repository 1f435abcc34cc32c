"""The architecture rules as import contracts (pyproject.toml [tool.importlinter], also run by
`make lint`): scoring never imports the registry (it reads it over gRPC), the registry never imports
scoring, and pure domain packages import neither gRPC nor SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_project_keeps_every_import_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    forbidden = {(s, f) for c in contracts for s in c["source_modules"] for f in c["forbidden_modules"]}
    assert {("scoring_service", "registry_service"), ("registry_service", "scoring_service")} <= forbidden
    assert {("registry_service.domain", "grpc"), ("registry_service.domain", "sqlalchemy")} <= forbidden
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


def test_a_scoring_import_of_registry_internals_breaks_the_contract(tmp_path: Path) -> None:
    """The same contracts over two stand-in packages, one of which reaches into the other (directly and
    through a helper): lint-imports must fail and name the import chain."""
    for package, body in {
        "registry_service": "",
        "registry_service/storage": "",
        "scoring_service": "",
        "scoring_service/helper": "from registry_service.storage import tables\n",
        "scoring_service/book": "from scoring_service import helper\n",
    }.items():
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text(body)
    (tmp_path / "registry_service/storage/tables.py").write_text("X = 1\n")
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    scoring = next(c for c in contracts if c["source_modules"] == ["scoring_service"])
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n    registry_service\n    scoring_service\n\n"
        f"[importlinter:contract:scoring]\nname = {scoring['name']}\ntype = forbidden\n"
        "source_modules =\n    scoring_service\nforbidden_modules =\n    registry_service\n"
    )
    result = _lint(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert "scoring_service.helper -> registry_service.storage" in result.stdout
