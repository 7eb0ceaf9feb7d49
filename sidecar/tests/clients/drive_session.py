"""Drives a whole design session against galley-sidecar with the official Python MCP SDK.

Usage: drive_session.py MODE (stdio COMMAND... | http URL) --fixture ARCH.json

MODE is `legacy` (initialize handshake, 2025-11-25 / 2025-06-18) or `2026-07-28` (no
handshake, per-request _meta). Prints one JSON line with what it saw; exits non-zero when a
check fails. The refusals (path traversal, apply without a plan token) are checked here too.
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters

TOOLS = {
    "create_session", "get_session", "list_sessions", "save_architecture", "add_component",
    "remove_component", "configure_component", "list_available_services",
    "validate_architecture", "export_iac", "update_terraform_file", "run_terraform_plan",
    "run_terraform_apply", "run_terraform_destroy", "get_rm_job_status", "detect_drift",
    "get_hearing_questions", "save_answer", "save_answers_batch", "complete_hearing",
    "get_hearing_result", "export_diagram", "export_summary",
    "list_app_templates", "scaffold_app_from_template", "write_app_file", "build_app_image",
}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def call(client, name, args):
    r = await client.call_tool(name, args)
    text = " ".join(getattr(c, "text", "") for c in r.content)
    return r.is_error, r.structured_content, text


async def drive(client, fixture):
    seen = {"protocol_version": client.protocol_version}
    tools = await client.list_tools()
    names = {t.name for t in tools.tools}
    check(names == TOOLS, f"tools differ: {sorted(names ^ TOOLS)}")
    for t in tools.tools:
        check(t.output_schema is not None, f"{t.name} has no output schema")
        check(t.annotations is not None and t.annotations.read_only_hint is not None, f"{t.name} lacks annotations")

    err, services, _ = await call(client, "list_available_services", {})
    check(not err and len(services["services"]) == 17, "17 service types")

    err, s, text = await call(client, "create_session", {"answers": {"workload": "web shop"}})
    check(not err, text)
    sid = s["id"]
    seen["session_id"] = sid

    # Design: the whole architecture at once, then one component added, configured, removed.
    err, s, text = await call(client, "save_architecture", {"session_id": sid, **fixture})
    check(not err, text)
    check(len(s["architecture"]["components"]) == len(fixture["components"]), "components saved")
    err, added, text = await call(client, "add_component", {
        "session_id": sid, "service_type": "compute", "display_name": "batch", "connect_to": ["priv"],
    })
    check(not err and added["component"]["id"] == "batch", text)
    err, conf, text = await call(client, "configure_component", {
        "session_id": sid, "component_id": "batch", "config": {"ocpus": 4},
    })
    check(not err and conf["component"]["config"]["ocpus"] == 4, text)
    err, s, text = await call(client, "remove_component", {"session_id": sid, "component_id": "batch"})
    check(not err and all(c["id"] != "batch" for c in s["architecture"]["components"]), text)
    err, _, text = await call(client, "add_component", {
        "session_id": sid, "service_type": "mainframe", "display_name": "z",
    })
    check(err and "known service types are" in text and "nosql" in text, f"unknown type refused: {text}")

    err, report, text = await call(client, "validate_architecture", {"session_id": sid})
    check(not err and report["valid"], f"fixture validates: {text}")
    seen["warnings"] = len(report["warnings"])

    err, exported, text = await call(client, "export_iac", {"session_id": sid})
    check(not err, text)
    files = sorted(f["path"] for f in exported["files"])
    check(files == sorted(["main.tf", "variables.tf", "components.tf", "outputs.tf", "terraform.tfvars.example"]), files)
    seen["resources"] = len(exported["resources"])

    err, got, text = await call(client, "get_session", {"session_id": sid})
    check(not err and got["status"] == "exported", text)
    err, listed, text = await call(client, "list_sessions", {})
    check(not err and any(x["id"] == sid for x in listed["sessions"]), text)

    # Refusals.
    err, _, text = await call(client, "update_terraform_file", {
        "session_id": sid, "file_path": "../../escape.tf", "new_content": "x",
    })
    check(err and "is refused" in text, f"traversal refused: {text}")
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid})
    check(err and "plan_token is required" in text, f"apply without token refused: {text}")
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": "pt-made-up"})
    check(err and "no reviewed plan" in text, f"apply with a made-up token refused: {text}")
    err, ok, text = await call(client, "update_terraform_file", {
        "session_id": sid, "file_path": "notes/extra.tf", "new_content": "# reviewed\n",
    })
    check(not err and ok["file"]["bytes"] == 11, text)

    if os.environ.get("DRIVE_PLAN_FAILS") == "1":
        # The real runner with no provider build: Terraform runs and fails; its output lines
        # arrive as progress notifications and the failure as a structured tool error.
        progress = []

        async def on_progress(value, total, message):
            progress.append((value, message))

        r = await client.call_tool("run_terraform_plan", {"session_id": sid, "variables": {"web_1_shape": "VM.Standard.E5.Flex"}}, progress_callback=on_progress)
        text = " ".join(getattr(c, "text", "") for c in r.content)
        check(r.is_error, f"plan without a provider fails: {text}")
        check(r.structured_content and r.structured_content["success"] is False, f"structured failure: {r.structured_content}")
        check(r.structured_content["plan_token"] is None, "no token for a failed plan")
        check(any(e["summary"] for e in r.structured_content["errors"]), "errors listed")
        check(len(progress) > 0, "progress notifications arrived")
        check([v for v, _ in progress] == sorted(set(v for v, _ in progress)), "progress increases strictly")
        seen["progress"] = len(progress)
        err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": "pt-x"})
        check(err and "no reviewed plan" in text, f"apply after a failed plan refused: {text}")

    seen["ok"] = True
    return seen


async def main():
    mode = sys.argv[1]
    kind = sys.argv[2]
    fixture_at = sys.argv.index("--fixture")
    fixture = json.load(open(sys.argv[fixture_at + 1]))
    rest = sys.argv[3:fixture_at]
    if kind == "stdio":
        # The SDK passes only a safe subset of the environment to the server; hand on GALLEY_*.
        env = {k: v for k, v in os.environ.items() if k.startswith("GALLEY_")}
        server = StdioServerParameters(command=rest[0], args=rest[1:], env=env)
    else:
        server = rest[0]
    async with Client(server, mode=mode) as client:
        seen = await drive(client, fixture)
    print(json.dumps(seen))


asyncio.run(main())
