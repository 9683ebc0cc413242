"""Manual trigger inputs -> Airflow Params, so the UI's trigger form asks for them."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from automation.definitions import ManualTrigger, Trigger


def params_for(trigger: Trigger) -> dict[str, Param]:
    if not isinstance(trigger, ManualTrigger):
        return {}
    params: dict[str, Param] = {}
    for name, spec in sorted(trigger.inputs.items()):
        schema: dict[str, Any] = {"type": spec.type if spec.required else [spec.type, "null"]}
        if spec.enum is not None:
            schema["enum"] = spec.enum
        if spec.title:
            schema["title"] = spec.title
        params[name] = Param(spec.default, description=spec.description, **schema)
    return params
