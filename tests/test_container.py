"""The Dockerfile, compose.yaml and the Makefile install the same way (there is no Docker services here to
build the image, so these files are checked as text against each other and pyproject.toml)."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest
import yaml

from recommender.api.routes.health import router as health_router
from recommender.config import Settings
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = set(PYPROJECT["project"]["optional-dependencies"])
PINS = {
    re.sub(r"\[.*\]", "", req.split("==")[0]).lower(): req.split("==")[1].split()[0]
    for req in PYPROJECT["project"]["dependencies"] + sum(PYPROJECT["project"]["optional-dependencies"].values(), [])
    if "==" in req
}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.args("ENV"):
            for item in shlex.split(line):
                key, sep, value = item.partition("=")
                assert sep, f"ENV {line!r}: use KEY=value"
                found[key] = value
        return found


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions (continuation lines joined, comments dropped, ARGs before FROM substituted)."""
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            key, _, default = rest.partition("=")
            global_args[key.strip()] = default.strip()
        elif instruction == "FROM":
            for key, value in global_args.items():
                rest = rest.replace(f"${{{key}}}", value)
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, flags=re.IGNORECASE)
            assert match, f"FROM {rest!r}: every stage needs a name (FROM image AS name)"
            stages.append(Stage(match.group(2), match.group(1)))
        else:
            assert stages, f"{instruction} before the first FROM"
            stages[-1].instructions.append((instruction, rest))
    return stages


def pip_installs(commands: list[str]) -> list[list[str]]:
    """The arguments of every `pip install` in shell commands (flags dropped)."""
    found = []
    for command in commands:
        for part in re.split(r"&&|;", command):
            words = shlex.split(part)
            if len(words) >= 2 and words[0] in ("pip", "pip3") or (words and words[0].endswith("/pip")):
                if len(words) >= 2 and words[1] == "install":
                    found.append([w for w in words[2:] if not w.startswith("-")])
    return found


def project_extras(target: str) -> set[str] | None:
    """The extras of a pip target naming this project (`.` or `.[a,b]`), None for any other package."""
    match = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
    if match is None:
        return None
    return set(match.group(1).split(",")) if match.group(1) else set()


def makefile_commands() -> tuple[list[str], dict[str, str]]:
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(?:export\s+)?([A-Z_]+)\s*[:?]?=\s*(.*)$", text, flags=re.MULTILINE))
    exported = dict(re.findall(r"^export\s+([A-Z_]+)\s*:?=\s*(.*)$", text, flags=re.MULTILINE))
    commands = [line.strip().replace("$(BIN)/", "") for line in text.splitlines() if line.startswith("\t")]
    return [re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), c) for c in commands], exported


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    parsed = parse_dockerfile((ROOT / "Dockerfile").read_text())
    by_name = {s.name: s for s in parsed}
    assert list(by_name) == ["build", "serve"], "a build stage (export) and a serving stage, the serving one last"
    return by_name


def torch_pins(commands: list[str]) -> set[str]:
    return {v for c in commands for v in re.findall(r"\btorch==([\w.+-]+)", c)}


def test_one_torch_version_everywhere(stages: dict[str, Stage]) -> None:
    make, _ = makefile_commands()
    extra = {v for req in PYPROJECT["project"]["optional-dependencies"]["torch"] for v in re.findall(r"^torch==(.+)$", req)}
    assert len(extra) == 1, "pyproject's torch extra pins torch"
    assert torch_pins(make) == extra
    assert torch_pins(stages["build"].args("RUN")) == extra
    assert not torch_pins(stages["serve"].args("RUN")), "the serving image has no torch"


def test_dependencies_come_from_pyproject_only(stages: dict[str, Stage]) -> None:
    make, _ = makefile_commands()
    assert not [c for c in make + stages["build"].args("RUN") + stages["serve"].args("RUN") if "requirements" in c]
    assert not any("torch" in dep for dep in PYPROJECT["project"]["dependencies"]), "serving deps must not need torch"

    def extras_of(commands: list[str]) -> list[set[str]]:
        found = []
        for targets in pip_installs(commands):
            for target in targets:
                extras = project_extras(target)
                if extras is not None:
                    assert extras <= EXTRAS, f"{target}: no such extra in pyproject.toml"
                    found.append(extras)
                elif target != "pip":  # pip upgrading itself is tooling, not a dependency
                    # anything else installed by name is pinned, and as pyproject.toml pins it
                    assert re.fullmatch(r"[\w.-]+==[\w.+-]+", target), f"unpinned install: {target}"
                    name, version = target.split("==")
                    assert PINS.get(name.lower(), version) == version, f"{target}: pyproject.toml pins {PINS[name.lower()]}"
        return found

    assert {"torch"} <= set().union(*extras_of(make))
    assert extras_of(stages["build"].args("RUN")) == [{"torch"}], "the build stage needs the torch extra to export"
    assert extras_of(stages["serve"].args("RUN")) == [set()], "the serving stage installs the base dependencies only"


def test_same_python_and_environment(stages: dict[str, Stage]) -> None:
    wanted = re.fullmatch(r">=\s*(\d+\.\d+)", PYPROJECT["project"]["requires-python"])
    assert wanted, "requires-python is a lower bound"
    for stage in stages.values():
        match = re.fullmatch(r"python:(\d+\.\d+)(?:\.\d+)?-slim", stage.base)
        assert match and match.group(1) == wanted.group(1), f"{stage.name}: {stage.base}"
    _, exported = makefile_commands()
    assert exported.get("HF_HUB_OFFLINE") == "1"
    for stage in stages.values():
        env = stage.env()
        for key in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM"):
            assert env.get(key) == exported[key], f"{stage.name}: {key}"


def test_serving_stage_runs_the_export_it_copies(stages: dict[str, Stage]) -> None:
    build, serve = stages["build"], stages["serve"]
    exports = [c for c in build.args("RUN") if "recommender models export" in c]
    assert len(exports) == 1
    env = serve.env()
    # The image serves with the service's default backend, from the export it ships.
    assert env["RECOMMENDER_BACKEND"] == Settings.model_fields["backend"].default
    assert env["RECOMMENDER_BACKEND"] in ("onnx", "onnx-int8")
    assert env["RECOMMENDER_BACKEND"] == "onnx" or "--no-int8" not in exports[0]
    copied = [c for c in serve.args("COPY") if c.startswith("--from=build")]
    assert copied and env["RECOMMENDER_MODELS_DIR"].rstrip("/").endswith(shlex.split(copied[0])[-1].strip("./").rstrip("/"))
    users = serve.args("USER")
    assert users and users[-1] not in ("root", "0")
    [healthcheck] = serve.args("HEALTHCHECK")
    paths = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    assert any(path in healthcheck for path in paths), healthcheck
    assert serve.args("CMD") == ['["recommender", "serve"]']


def test_compose_runs_the_image_on_pgvector() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    app = next(s for s in services.values() if "build" in s)
    assert (ROOT / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
    [(db_name, db)] = [(n, s) for n, s in services.items() if s.get("image") == "pgvector/pgvector:pg16"]
    url = app["environment"]["RECOMMENDER_DATABASE_URL"]
    assert re.fullmatch(rf"postgresql://[^@/]+@{db_name}:5432/\w+", url.replace("${POSTGRES_PASSWORD:-recommender}", "pw"))
    assert db["healthcheck"]["test"] and app["depends_on"][db_name]["condition"] == "service_healthy"
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
