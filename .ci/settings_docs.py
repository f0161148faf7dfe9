"""Regenerate `.env.example` and the README's settings table from the settings model.

Run after adding a setting: .venv/bin/python .ci/settings_docs.py
"""

from __future__ import annotations

import re
from pathlib import Path

from iot_platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _default(field) -> str:  # type: ignore[no-untyped-def]
    value = field.default
    if hasattr(value, "value"):
        value = value.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def main() -> None:
    env_lines = [
        "# Every setting of the IoT platform, with its default. Copy to .env and change what you need.",
        "# Empty values count as unset. Secrets have no defaults: set them for postgres-s3 and for the API token.",
        "",
    ]
    table = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = field.alias or f"IOT_{name.upper()}"
        default = _default(field)
        env_lines += [f"# {field.description}", f"{env}={default}"]
        table.append(f"| `{env}` | {f'`{default}`' if default else ''} | {field.description} |")
    (ROOT / ".env.example").write_text("\n".join(env_lines) + "\n")
    readme = (ROOT / "README.md").read_text()
    block = "\n".join(table) + "\n"
    readme, count = re.subn(r"\| Variable \| Default \| Meaning \|\n(?:\|.*\|\n)+", lambda _: block, readme)
    if count != 1:
        raise SystemExit("README.md: settings table not found")
    (ROOT / "README.md").write_text(readme)


if __name__ == "__main__":
    main()
