"""Class prompts: the text a CXR class is generated from."""

from __future__ import annotations

from edgegen.errors import UsageError

DEFAULT_TEMPLATE = "a chest X-ray, frontal view, {class}"


def class_prompt(template: str, class_name: str) -> str:
    if "{class}" not in template:
        raise UsageError(
            f"prompt template {template!r} has no {{class}} placeholder",
            hint='e.g. "a chest X-ray, frontal view, {class}"',
        )
    return template.replace("{class}", class_name.replace("_", " "))
