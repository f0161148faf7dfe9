"""Static checks of the compose deployment in ``docker/``: no Docker engine needed.

``docker compose`` substitutes ``${VAR}`` from ``docker/.env`` before it validates the file; these tests do the same
with ``docker/.env.example`` (blank secrets filled with placeholders), then check the result against the Compose
Specification's JSON schema (the copy vendored by the ``check-jsonschema`` package) and against what compose only
finds out at ``up`` time: unknown services and volumes, unready dependencies, clashing ports, settings the platform
would silently ignore.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jsonschema
import pytest
import yaml

from iot_platform.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
DOCKERIGNORE = DOCKER_DIR / "Dockerfile.dockerignore"

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
"""Variable names whose values are secrets: never a literal in compose.yaml, always blank in .env.example."""

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `${NAME:+alt}`, `$NAME`, `$$`.
_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_CONTAINER_SHELL_VAR = re.compile(r"\$\$\{?([A-Za-z_][A-Za-z0-9_]*)")
"""``$$NAME`` in compose.yaml: a variable the container's shell expands (compose turns ``$$`` into ``$``)."""


# --- reading the files ---------------------------------------------------------------------------------------------


class MissingVariable(ValueError):
    """A ``${NAME:?message}`` reference whose variable is unset or empty."""


def parse_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """Read a compose ``.env`` file.

    Returns:
        The ``KEY=VALUE`` assignments, and the keys of commented-out assignments (``# KEY=VALUE``).
    """
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(match.group(1))
        elif line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip().strip("'\"")
    return values, commented


def references(text: str) -> Iterator[re.Match[str]]:
    """The variable references compose substitutes in one string (not ``$$`` escapes)."""
    for match in _REFERENCE.finditer(text):
        if not match.group("escaped"):
            yield match


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute variables in one string as ``docker compose`` does.

    Raises:
        MissingVariable: a ``:?`` / ``?`` reference to an unset (or, with ``:``, empty) variable.
    """

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op") or "", match.group("arg") or ""
        value = env.get(name)
        # With a colon, an empty value counts as unset.
        present = bool(value) if op.startswith(":") else value is not None
        if op.endswith("-"):
            return value if present and value is not None else arg
        if op.endswith("?"):
            if not present or value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op.endswith("+"):
            return arg if present else ""
        return value or ""

    return _REFERENCE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """:func:`interpolate` every string value of a parsed YAML document."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def strings(node: Any) -> Iterator[str]:
    """Every string value in a parsed YAML document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def environment(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's ``environment:``, in either of its two forms."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {item.partition("=")[0]: item.partition("=")[2] if "=" in item else None for item in env}
    return {key: None if value is None else str(value) for key, value in env.items()}


def env_files(service: Mapping[str, Any]) -> list[Path]:
    """The ``env_file:`` paths of a service (relative to compose.yaml)."""
    entries = service.get("env_file") or []
    if isinstance(entries, str | dict):
        entries = [entries]
    return [DOCKER_DIR / (entry["path"] if isinstance(entry, dict) else entry) for entry in entries]


def command_words(value: Any) -> list[str]:
    """A ``command:`` / ``entrypoint:`` / healthcheck ``test:`` as a list of words."""
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """``depends_on:`` as {service: condition}, in either of its two forms."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def published_ports(service: Mapping[str, Any]) -> list[tuple[str | None, int, str]]:
    """The host side of each ``ports:`` entry that publishes one: (host address or None, port, protocol)."""
    published: list[tuple[str | None, int, str]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                host_ip = entry.get("host_ip")
                published.append((host_ip, int(entry["published"]), entry.get("protocol", "tcp")))
            continue
        spec, _, protocol = str(entry).partition("/")
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: not published on a fixed host port
        host_ip = parts[0].strip("[]") if len(parts) == 3 else None
        first, _, last = parts[-2].partition("-")
        for port in range(int(first), int(last or first) + 1):
            published.append((host_ip, port, protocol or "tcp"))
    return published


def known_setting_names() -> set[str]:
    """Every environment variable the platform's settings model reads."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    for field in Settings.model_fields.values():
        for alias in (field.alias, field.validation_alias):
            if isinstance(alias, str):
                names.add(alias.upper())
    return names


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, args = pending.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether a build-context path is left out by .dockerignore patterns (last matching pattern wins; a pattern
    that matches a parent folder matches its contents)."""

    def to_regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = to_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# --- fixtures -----------------------------------------------------------------------------------------------------

RAW_COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
"""compose.yaml as written (YAML anchors and merge keys resolved, variables not substituted)."""
ENV_EXAMPLE_VALUES, ENV_EXAMPLE_COMMENTED = parse_env_file(ENV_EXAMPLE)


def _filled_env() -> dict[str, str]:
    """docker/.env.example as a user fills it in: every blank value (the secrets) set to a placeholder."""
    return {key: value or f"placeholder-{key.lower().replace('_', '-')}" for key, value in ENV_EXAMPLE_VALUES.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """compose.yaml after variable substitution with a filled-in .env.example: what `docker compose` validates."""
    return interpolate_tree(RAW_COMPOSE, _filled_env())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _one_shot_jobs(services: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Services others wait for to finish (``service_completed_successfully``)."""
    return {
        target
        for service in services.values()
        for target, condition in depends_on(service).items()
        if condition == "service_completed_successfully"
    }


# --- the compose file ---------------------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(compose), key=lambda err: list(err.absolute_path))
    problems = [f"{'/'.join(map(str, err.absolute_path)) or '<root>'}: {err.message}" for err in errors]
    assert not problems, "compose.yaml breaks the Compose Specification:\n" + "\n".join(problems)


def test_compose_refuses_to_start_without_the_secrets() -> None:
    with pytest.raises(MissingVariable):
        interpolate_tree(RAW_COMPOSE, ENV_EXAMPLE_VALUES)
    required = {
        match.group("braced")
        for text in strings(RAW_COMPOSE)
        for match in references(text)
        if match.group("op") == ":?"
    }
    assert required, "no ${VAR:?message} reference: compose would start with empty secrets"
    not_blank = sorted(name for name in required if ENV_EXAMPLE_VALUES.get(name))
    assert not not_blank, f"required in compose.yaml but given a value in .env.example: {not_blank}"


def test_every_referenced_variable_is_declared_in_env_example() -> None:
    referenced = {
        match.group("braced") or match.group("named") for text in strings(RAW_COMPOSE) for match in references(text)
    }
    undeclared = sorted(referenced - set(ENV_EXAMPLE_VALUES))
    assert not undeclared, f"compose.yaml uses variables that docker/.env.example does not declare: {undeclared}"


def test_iot_variables_are_platform_settings(services: dict[str, dict[str, Any]]) -> None:
    known = known_setting_names()
    used: dict[str, str] = {}
    for text in strings(RAW_COMPOSE):
        for match in references(text):
            used.setdefault(match.group("braced") or match.group("named"), "a ${...} in compose.yaml")
    for name, service in services.items():
        for key in environment(service):
            used.setdefault(key, f"environment of {name}")
    for key in ENV_EXAMPLE_VALUES.keys() | ENV_EXAMPLE_COMMENTED:
        used.setdefault(key, ".env.example")
    unknown = sorted(f"{key} ({where})" for key, where in used.items() if key.startswith("IOT_") and key not in known)
    assert not unknown, f"IOT_* names the settings model does not read (silently ignored): {unknown}"


def test_platform_containers_get_valid_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = {name: service for name, service in services.items() if service.get("env_file")}
    assert platform, "no service reads docker/.env"
    for name, service in platform.items():
        container_env: dict[str, str] = {}
        for path in env_files(service):
            assert path.name == ".env", f"{name}: env_file {path} (expected docker/.env)"
            container_env.update(_filled_env())
        container_env.update({key: value for key, value in environment(service).items() if value is not None})
        with monkeypatch.context() as patch:
            for key in [key for key in os.environ if key.startswith("IOT_")]:
                patch.delenv(key)
            for key, value in container_env.items():
                patch.setenv(key, value)
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.profile.value == "postgres-s3", f"{name}: the compose deployment is the postgres-s3 profile"
        hosts = {
            "Kafka": urlsplit(f"//{settings.bootstrap_servers}").hostname,
            "Spark master": urlsplit(settings.master_url).hostname,
            "Spark web UI": urlsplit(settings.master_web_url).hostname,
            "Spark Connect": urlsplit(settings.connect_url).hostname,
            "PostgreSQL": settings.postgres_host,
            "S3": urlsplit(settings.s3_endpoint_url).hostname,
            "Dagster": urlsplit(settings.dagster_web_url).hostname,
            "API": urlsplit(settings.api_base_url).hostname,
        }
        wrong = {what: host for what, host in hosts.items() if host not in services}
        assert not wrong, f"{name}: these settings name no compose service: {wrong}"


def test_compose_defaults_match_the_settings_defaults() -> None:
    mismatched = []
    for text in strings(RAW_COMPOSE):
        for match in references(text):
            name, op = match.group("braced"), match.group("op")
            if not name or not name.startswith("IOT_") or op not in (":-", "-"):
                continue
            field = Settings.model_fields.get(name.removeprefix("IOT_").lower())
            if field is None or field.default is None:
                continue
            default = field.default.value if hasattr(field.default, "value") else field.default
            if str(default) != match.group("arg"):
                mismatched.append(f"{match.group(0)} (settings default {default!r})")
    assert not mismatched, f"compose.yaml defaults that differ from the platform's: {mismatched}"


def _container_settings(service: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """The settings a platform container reads: docker/.env (filled in), its ``environment:`` and ``env``."""
    container_env = {**_filled_env(), **{k: v for k, v in environment(service).items() if v is not None}, **env}
    with monkeypatch.context() as patch:
        for key in [key for key in os.environ if key.startswith("IOT_")]:
            patch.delenv(key)
        for key, value in container_env.items():
            patch.setenv(key, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]


def test_spark_connect_serves_the_platform_inside_the_network_only(services: dict[str, dict[str, Any]]) -> None:
    server = services["spark-connect"]
    assert command_words(server["command"]) == ["python", "-m", "iot_platform.stack.spark_connect"]
    assert importlib.util.find_spec("iot_platform.stack.spark_connect") is not None
    assert not published_ports(server), "the Connect server has no authentication: keep it inside the network"
    assert depends_on(server) == {"spark-master": "service_healthy", "catalog-init": "service_completed_successfully"}
    health = " ".join(command_words(server["healthcheck"]["test"]))
    assert "probe_connect_server(load_settings().connect_url" in health, "healthy means it answers a query"
    assert depends_on(services["dagster-code"]).get("spark-connect") == "service_healthy", "runs need the server"
    for name in ("dagster-code", "dagster-daemon", "api"):
        assert environment(services[name]).get("IOT_SPARK_CONNECT_URL") == "sc://spark-connect:15002", name


def test_spark_connect_runs_the_local_stacks_server_command_on_the_compose_master(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from iot_platform.clients.spark import CONNECT_SERVER_CLASS, SPARK_JARS, platform_jar_path
    from iot_platform.stack.spark_connect import SparkConnect, foreground_command

    settings = _container_settings(services["spark-connect"], monkeypatch, IOT_CACHE_DIR=str(tmp_path))
    for jar in (SPARK_JARS.folder(tmp_path) / "kafka.jar", platform_jar_path(tmp_path)):  # what the image prepares
        jar.parent.mkdir(parents=True, exist_ok=True)
        jar.write_bytes(b"jar")
    (SPARK_JARS.folder(tmp_path) / ".resolved").write_text(SPARK_JARS.stamp)

    command = foreground_command(settings)
    assert command == SparkConnect(settings).command()
    assert command[command.index("--class") + 1] == CONNECT_SERVER_CLASS
    conf = dict(word.split("=", 1) for word in command if "=" in word and word.startswith("spark."))
    assert conf["spark.master"] == "spark://spark-master:7077" and conf["spark.driver.host"] == "spark-connect"
    assert f"sc://spark-connect:{conf['spark.connect.grpc.binding.port']}" == settings.connect_url
    assert conf["spark.sql.defaultCatalog"] == settings.catalog_name
    assert conf[f"spark.sql.catalog.{settings.catalog_name}.uri"].startswith("jdbc:postgresql://postgres:")
    jars = command[command.index("--jars") + 1].split(",")
    assert str(platform_jar_path(tmp_path)) in jars


def test_env_example_leaves_secrets_blank() -> None:
    filled = sorted(key for key, value in ENV_EXAMPLE_VALUES.items() if SECRET_NAME.search(key) and value)
    assert not filled, f"docker/.env.example must not carry secret values: {filled}"


def test_compose_has_no_secret_literals() -> None:
    literal = []
    for name, service in RAW_COMPOSE["services"].items():
        for key, value in environment(service).items():
            if not SECRET_NAME.search(key) or value in (None, ""):
                continue
            match = re.fullmatch(_REFERENCE, value)
            if match is None or match.group("escaped") or match.group("op") in (":-", "-", ":+", "+"):
                literal.append(f"{name}: {key}={value}")
    credentials_in_urls = [text for text in strings(RAW_COMPOSE) if re.search(r"://[^/\s:@$]+:[^/\s@$]+@", text)]
    assert not literal, f"secrets must come from docker/.env as ${{VAR:?...}}, not literals/defaults: {literal}"
    assert not credentials_in_urls, f"credentials written into URLs: {credentials_in_urls}"


def test_published_host_ports_are_unique_and_bound_to_the_publish_address(
    services: dict[str, dict[str, Any]],
) -> None:
    seen: dict[tuple[int, str], str] = {}
    for name, service in services.items():
        for host_ip, port, protocol in published_ports(service):
            assert (port, protocol) not in seen, f"host port {port}/{protocol}: {seen[(port, protocol)]} and {name}"
            seen[(port, protocol)] = name
            assert host_ip == ENV_EXAMPLE_VALUES["PUBLISH_ADDRESS"], (
                f"{name} publishes {port} on {host_ip or 'every interface'}; bind it to ${{PUBLISH_ADDRESS}}"
            )
    assert seen, "no port is published: users could not reach the UIs and the API"


def test_long_running_services_have_healthchecks_and_restart(services: dict[str, dict[str, Any]]) -> None:
    one_shot = _one_shot_jobs(services)
    for name, service in services.items():
        check = service.get("healthcheck")
        if name in one_shot:
            assert service.get("restart", "no") == "no", f"{name} is a one-shot job: restart must be 'no'"
            continue
        assert check and not check.get("disable"), f"{name} has no healthcheck (and is no one-shot init job)"
        test = command_words(check.get("test"))
        assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: healthcheck test {test}"
        assert service.get("restart") in ("always", "unless-stopped") or str(service.get("restart", "")).startswith(
            "on-failure"
        ), f"{name}: a long-running service needs a restart policy"


def test_depends_on_targets_exist_and_can_be_waited_for(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target} healthy: no healthcheck"
            target_profiles = set(services[target].get("profiles") or [])
            assert not target_profiles or target_profiles & set(service.get("profiles") or []), (
                f"{name} depends on {target}, which only starts with profile(s) {sorted(target_profiles)}"
            )

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"depends_on cycle: {' -> '.join((*path, name))}"
        for target in depends_on(services[name]):
            visit(target, (*path, name))

    for name in services:
        visit(name, ())


def test_spark_workers_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["spark-worker"]
    assert "container_name" not in worker, "a fixed container_name allows one worker only"
    assert "hostname" not in worker, "a fixed hostname makes every worker claim the same address"
    assert not worker.get("ports"), "published ports clash as soon as a second worker starts"
    master_url = next(word for word in command_words(worker.get("command")) if word.startswith("spark://"))
    assert master_url.removeprefix("spark://").split(":")[0] in services, f"workers connect to {master_url}"


def test_volumes_and_mounted_files_exist(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for entry in service.get("volumes") or []:
            source = entry.get("source") if isinstance(entry, dict) else str(entry).split(":")[0]
            if not source:
                continue
            if source.startswith((".", "/", "~")):
                assert (DOCKER_DIR / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared under volumes:"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {sorted(declared - used)}"


def test_container_shell_variables_are_set(services: dict[str, dict[str, Any]]) -> None:
    for name, service in RAW_COMPOSE["services"].items():
        available = set(environment(service))
        if service.get("env_file"):
            available |= set(ENV_EXAMPLE_VALUES)
        scripts = [
            *command_words(service.get("command")),
            *command_words(service.get("entrypoint")),
            *command_words((service.get("healthcheck") or {}).get("test")),
        ]
        text = "\n".join(scripts)
        assigned = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=", text, re.MULTILINE))
        unset = sorted(set(_CONTAINER_SHELL_VAR.findall(text)) - available - assigned)
        assert not unset, f"{name}: its shell expands {unset}, which its environment does not set"


def _shell_scripts(service: Mapping[str, Any]) -> Iterator[str]:
    """Scripts a service hands to a shell: ``sh -c`` / ``bash -ec`` commands and CMD-SHELL healthchecks."""
    words = command_words(service.get("entrypoint")) + command_words(service.get("command"))
    for index, word in enumerate(words[:-1]):
        if Path(word).name in ("sh", "bash") and re.fullmatch(r"-[a-z]*c", words[index + 1]):
            yield words[index + 2]
    test = command_words((service.get("healthcheck") or {}).get("test"))
    if test[:1] == ["CMD-SHELL"]:
        yield test[1]


def test_container_scripts_parse(services: dict[str, dict[str, Any]]) -> None:
    scripts = [(name, script) for name, service in services.items() for script in _shell_scripts(service)]
    assert any(name == "kafka-init" for name, _ in scripts) and any(name == "minio-init" for name, _ in scripts)
    for name, script in scripts:
        result = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}: shell syntax error: {result.stderr}\n{script}"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service.get("image", "")
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        assert "@sha256:" in image or (re.search(r"\d", tag) and tag != "latest"), f"{name}: unpinned image {image}"


# --- the image ----------------------------------------------------------------------------------------------------


def test_dockerfile_base_images_are_pinned() -> None:
    stages: set[str] = set()
    bases = []
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword != "FROM":
            continue
        words = [word for word in args.split() if not word.startswith("--")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image in stages or image == "scratch":
            continue
        bases.append(image)
        assert "$" not in image, f"base image {image} comes from a build argument; pin it in the Dockerfile"
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        assert "@sha256:" in image or re.fullmatch(r"\d+\.\d+\.\d+[-\w.]*", tag), (
            f"base image {image} is not pinned to a full version tag (major.minor.patch) or a digest"
        )
    assert bases, "the Dockerfile has no FROM"


def test_dockerfile_copies_files_that_are_in_the_build_context() -> None:
    build = RAW_COMPOSE["x-platform"]["build"]
    context = (DOCKER_DIR / build["context"]).resolve()
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    copied = []
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword not in ("COPY", "ADD"):
            continue
        words = json.loads(args) if args.startswith("[") else args.split()
        if any(word.startswith("--from") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            copied.append(source)
            assert (context / source).exists(), f"COPY {source}: not in the build context {context}"
            assert not dockerignore_excludes(patterns, source), f"COPY {source}: excluded by {DOCKERIGNORE.name}"
    assert "pyproject.toml" in copied
    for secret_file in (".env", "docker/.env", ".venv", ".iot-platform"):
        assert dockerignore_excludes(patterns, secret_file), f"{secret_file} would be sent to the image build"


def test_the_image_build_prepares_the_platform_jar_and_the_runtime_compiles_nothing() -> None:
    """The build stage fetches from a source tree with ``jvm/`` beside the package (where the platform looks for
    its Maven module), so the jar is built into the cache the runtime stage copies; the runtime has no compiler."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, args))
    build, runtime = stages[0], stages[-1]
    copied = {
        words[-1].rstrip("/"): words[0].rstrip("/")
        for keyword, args in build
        if keyword == "COPY" and not (words := args.split())[0].startswith("--")
    }
    assert copied.get("/src/jvm") == "jvm" and copied.get("/src/iot_platform") == "iot_platform"
    fetches = [args for keyword, args in build if keyword == "RUN" and "iot-platform stack fetch" in args]
    assert fetches and all("PYTHONPATH=/src " in args for args in fetches), "the fetch must import the source tree"
    assert "openjdk-17-jdk-headless" in " ".join(args for keyword, args in build if keyword == "RUN")
    runtime_installs = " ".join(args for keyword, args in runtime if keyword == "RUN")
    assert "-jre-headless" in runtime_installs
    assert not re.search(r"-jdk\b|\bmaven\b", runtime_installs), "the runtime stage installs a compiler"
    cache = _dockerfile_env("IOT_CACHE_DIR")
    assert any(keyword == "COPY" and args.split()[-1] == cache and "--from=build" in args for keyword, args in runtime)


def _platform_commands() -> list[tuple[str, ...]]:
    """The ``iot-platform`` command lines (arguments after the program name) compose.yaml and the Dockerfile run."""
    found: set[tuple[str, ...]] = set()
    for service in RAW_COMPOSE["services"].values():
        words = command_words(service.get("command"))
        if words[:1] == ["iot-platform"]:
            found.add(tuple(words[1:]))
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword == "RUN":
            for match in re.finditer(r"iot-platform((?:\s+[a-z][a-z-]*)+)", args):
                found.add(tuple(match.group(1).split()))
    return sorted(found)


@pytest.mark.parametrize("argv", _platform_commands(), ids=" ".join)
def test_platform_commands_exist(argv: tuple[str, ...]) -> None:
    module = f"iot_platform.{argv[0]}.cli"
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")
    from iot_platform import cli as cli_module

    cli_module._mount()
    command: click.Command = cli_module.cli
    words = list(argv)
    while words and isinstance(command, click.Group) and not words[0].startswith("-"):
        sub = command.get_command(click.Context(command), words[0])
        assert sub is not None, f"`iot-platform {' '.join(argv[: len(argv) - len(words) + 1])}` does not exist"
        command, words = sub, words[1:]
    assert not isinstance(command, click.Group), f"`iot-platform {' '.join(argv)}` names a group, not a command"
    try:
        command.make_context(command.name or "", words)  # parses the options and arguments; runs nothing
    except click.ClickException as exc:
        pytest.fail(f"`iot-platform {' '.join(argv)}`: {exc.format_message()}")


# --- Dagster ------------------------------------------------------------------------------------------------------


def _dagster_services(services: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {
        name: service
        for name, service in services.items()
        if command_words(service.get("command"))[:1] in (["dagster"], ["dagster-webserver"], ["dagster-daemon"])
    }


def _dockerfile_env(name: str) -> str:
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword == "ENV" and (match := re.search(rf"(?:^|\s){name}=(\S+)", args)):
            return match.group(1)
    raise AssertionError(f"the Dockerfile sets no {name}")


def test_dagster_instance_config_is_valid_and_reaches_postgres(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    from dagster._core.instance.config import dagster_instance_config

    (tmp_path / "dagster.yaml").write_text((DOCKER_DIR / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["telemetry"]["enabled"] is False
    assert "postgres" in config["storage"], "the compose deployment keeps Dagster's storage in PostgreSQL"

    raw = yaml.safe_load((DOCKER_DIR / "dagster.yaml").read_text())
    needed = {node["env"] for node in _mappings(raw) if set(node) == {"env"}}
    base_dirs = [node["base_dir"] for node in _mappings(raw) if isinstance(node.get("base_dir"), str)]
    dagster = _dagster_services(services)
    assert set(dagster) >= {"dagster-webserver", "dagster-daemon"} and len(dagster) >= 3
    for name, service in dagster.items():
        missing = sorted(needed - set(environment(service)))
        assert not missing, f"{name} runs Dagster without {missing} (read by dagster.yaml)"
        mounts = [str(entry).split(":")[1] for entry in service.get("volumes") or []]
        for base_dir in base_dirs:
            assert any(base_dir.startswith(mount) for mount in mounts), (
                f"{name}: {base_dir} is not on a shared volume; runs' logs would not reach the UI"
            )
        postgres = environment(service)["DAGSTER_POSTGRES_HOST"]
        assert postgres in _waits_for(services, name), f"{name} starts without waiting for {postgres}"


def _waits_for(services: Mapping[str, Mapping[str, Any]], name: str) -> set[str]:
    """Every service that starts before ``name`` (its depends_on, transitively)."""
    found: set[str] = set()
    pending = list(depends_on(services[name]))
    while pending:
        target = pending.pop()
        if target not in found:
            found.add(target)
            pending.extend(depends_on(services[target]))
    return found


def _mappings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def test_workspace_points_at_the_code_server(services: dict[str, dict[str, Any]]) -> None:
    from dagster._core.workspace.config_schema import ensure_workspace_config

    workspace_file = DOCKER_DIR / "workspace.yaml"
    workspace = ensure_workspace_config(yaml.safe_load(workspace_file.read_text()), str(workspace_file))
    location_name = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["code_location_name"]
    dagster_home = _dockerfile_env("DAGSTER_HOME")
    for entry in workspace["load_from"]:  # type: ignore[attr-defined]
        server = entry["grpc_server"]
        assert server["host"] in services, f"workspace.yaml loads from {server['host']}, which is not a service"
        words = command_words(services[server["host"]].get("command"))
        assert words[:3] == ["dagster", "code-server", "start"] or words[:3] == ["dagster", "api", "grpc"]
        port = words[words.index("-p") + 1] if "-p" in words else words[words.index("--port") + 1]
        assert int(port) == int(server["port"]), f"{server['host']} serves on {port}, workspace.yaml says {server}"
        assert "iot_platform.definitions" in words
        assert server["location_name"] == location_name
    for name in ("dagster-webserver", "dagster-daemon"):
        words = command_words(services[name]["command"])
        assert words[words.index("-w") + 1] == f"{dagster_home}/workspace.yaml", f"{name} reads another workspace"
    copies = [args for keyword, args in dockerfile_instructions(DOCKERFILE) if keyword == "COPY"]
    assert any(
        "docker/workspace.yaml" in args and "docker/dagster.yaml" in args and dagster_home in args for args in copies
    ), f"the image must carry dagster.yaml and workspace.yaml in {dagster_home}"


# --- PostgreSQL init ----------------------------------------------------------------------------------------------


def test_postgres_init_script_is_mounted_and_has_its_variables(services: dict[str, dict[str, Any]]) -> None:
    script = DOCKER_DIR / "postgres-init.sh"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"postgres-init.sh: {result.stderr}"
    postgres = services["postgres"]
    mounts = [str(entry) for entry in postgres.get("volumes") or []]
    assert any(entry.startswith("./postgres-init.sh:/docker-entrypoint-initdb.d/") for entry in mounts), (
        "postgres-init.sh is not mounted into /docker-entrypoint-initdb.d"
    )
    read = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script.read_text()))
    missing = sorted(read - set(environment(postgres)))
    assert not missing, f"postgres-init.sh reads {missing}, which the postgres service does not set"
    for prefix in ("IOT_POSTGRES", "DAGSTER_POSTGRES"):
        assert {f"{prefix}_USER", f"{prefix}_PASSWORD", f"{prefix}_DB"} <= read, f"{prefix}_*: no database made"


# --- what is published, and to whom -----------------------------------------------------------------------------


def test_no_published_dagster_webserver_can_launch_or_terminate(services: dict[str, dict[str, Any]]) -> None:
    webservers = {
        name: service
        for name, service in services.items()
        if command_words(service.get("command"))[:1] == ["dagster-webserver"]
    }
    published = {name for name, service in webservers.items() if published_ports(service)}
    assert published, "a Dagster UI is published for people"
    for name in published:
        assert "--read-only" in command_words(webservers[name]["command"]), f"{name} is published writable"
    writable = [name for name, s in webservers.items() if "--read-only" not in command_words(s.get("command"))]
    assert writable == ["dagster-webserver"], "the API and the daemon need a writable webserver in the network"
    assert not published_ports(webservers["dagster-webserver"])
    assert environment(services["api"])["IOT_DAGSTER_URL"] == "http://dagster-webserver:3000"


def test_no_published_spark_ui_has_kill_links(services: dict[str, dict[str, Any]]) -> None:
    for name in ("spark-master", "spark-worker", "spark-connect"):
        assert not published_ports(services[name]), f"{name} is published: its UI has no login"
    worker_opts = str(environment(services["spark-worker"]).get("SPARK_WORKER_OPTS"))
    assert "-Dspark.ui.killEnabled=false" in worker_opts.split()


def test_kafkas_published_listener_asks_for_credentials(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    env = environment(kafka)
    container_ports = {int(str(entry).rsplit(":", 1)[1].split("/")[0]) for entry in kafka.get("ports") or []}
    listeners = dict(item.split("://") for item in str(env["KAFKA_LISTENERS"]).split(","))
    protocols = dict(item.split(":") for item in str(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]).split(","))
    published = [name for name, address in listeners.items() if int(address.rsplit(":", 1)[1]) in container_ports]
    assert published == ["EXTERNAL"]
    assert protocols["EXTERNAL"] in ("SASL_PLAINTEXT", "SASL_SSL")
    jaas = str(env["KAFKA_LISTENER_NAME_EXTERNAL_PLAIN_SASL_JAAS_CONFIG"])
    assert "PlainLoginModule required" in jaas and 'user_sensors="' in jaas


def test_the_threat_model_covers_every_published_service(services: dict[str, dict[str, Any]]) -> None:
    readme = (DOCKER_DIR / "README.md").read_text()
    section = readme.split("## Threat model", 1)[1].split("\n## ", 1)[0]
    for name, service in services.items():
        if published_ports(service):
            assert f"`{name}`" in section, f"the threat model does not say who may reach {name}"
    for word in ("Dagster", "Spark", "Kafka", "token"):
        assert word in section
