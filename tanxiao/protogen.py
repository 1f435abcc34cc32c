"""Generate Python code from protos/ (``make protos``) or check it is current (``--check``).

Generated modules live inside the ``tanxiao`` package (``tanxiao/registry/v1/registry_pb2.py``) so that
their own imports (``from tanxiao.common.v1 import common_pb2``) resolve without any sys.path tricks.

protos/google/ holds vendored copies of the Google API protos the contract imports (google.api.http
annotations, google.rpc.Status and its error details) so that clients in any language find them beside
the contract. They are import paths only: their Python modules come from googleapis-common-protos (a
runtime dependency), so nothing is generated for them here.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
CONTRACT_ROOT = PROTO_ROOT / "tanxiao"  # generated; protos/google/ is vendored, import-only
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    """The contract's own protos (not the vendored google/ ones)."""
    return sorted(CONTRACT_ROOT.rglob("*.proto"))


def generate_args() -> list[str]:
    """protoc and its include paths: protos/ (with the vendored google/ protos), the well-known types."""
    well_known = str(resources.files("grpc_tools") / "_proto")
    return ["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}"]


def generate(out: Path) -> list[Path]:
    """Run protoc (the one bundled with grpcio-tools, pinned to the runtime) into ``out``."""
    from grpc_tools import protoc  # dev dependency: imported only when generating

    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        *generate_args(),
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = [p for p in (out / "tanxiao").rglob("*") if p.name.endswith(GENERATED_SUFFIXES)]
    for package_dir in {p.parent for p in generated}:
        _ensure_init_files(out, package_dir)
    return generated


def _ensure_init_files(out: Path, package_dir: Path) -> None:
    current = package_dir
    while current != out:
        init = current / "__init__.py"
        if not init.exists():
            init.write_text("")
        current = current.parent


def stale_files() -> list[str]:
    """Generated files whose checked-in copy differs from a fresh generation (or is missing/extra)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp)
        fresh = {p.relative_to(fresh_root) for p in generate(fresh_root)}
        existing = {
            p.relative_to(ROOT) for p in (ROOT / "tanxiao").rglob("*") if p.name.endswith(GENERATED_SUFFIXES)
        }
        problems = [f"missing: {p}" for p in sorted(fresh - existing)]
        problems += [f"extra: {p}" for p in sorted(existing - fresh)]
        problems += [
            f"stale: {p}"
            for p in sorted(fresh & existing)
            if not filecmp.cmp(fresh_root / p, ROOT / p, shallow=False)
        ]
        return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT)
    parser.add_argument("--check", action="store_true", help="fail if checked-in code is stale")
    args = parser.parse_args()
    if args.check:
        problems = stale_files()
        if problems:
            print("generated code is stale; run `make protos`:\n  " + "\n  ".join(problems))
            sys.exit(1)
        print("generated code is current")
        return
    for path in generate(args.out):
        print(path.relative_to(args.out))


if __name__ == "__main__":
    main()
