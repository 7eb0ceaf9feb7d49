"""Designs, exports and plans a session with the official Python MCP SDK.

Usage: plan_session.py MODE URL --fixture ARCH.json

The exported main.tf, components.tf and outputs.tf are replaced by a `terraform_data` stack (the
local engine has no OCI provider). Prints one JSON line: the session id, and the plan's stack and
job.
"""

import asyncio
import json
import sys

from mcp import Client

MAIN_TF = """\
resource "terraform_data" "greeting" {
  input = "hello"
}
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def call(client, name, args):
    r = await client.call_tool(name, args)
    text = " ".join(getattr(c, "text", "") for c in r.content)
    return r.is_error, r.structured_content, text


async def main():
    mode, url = sys.argv[1], sys.argv[2]
    fixture = json.load(open(sys.argv[sys.argv.index("--fixture") + 1]))
    async with Client(url, mode=mode) as client:
        err, s, text = await call(client, "create_session", {})
        check(not err, text)
        sid = s["id"]
        for name, args in [
            ("save_architecture", {"session_id": sid, **fixture}),
            ("export_iac", {"session_id": sid}),
            ("update_terraform_file", {"session_id": sid, "file_path": "main.tf", "new_content": MAIN_TF}),
            ("update_terraform_file", {"session_id": sid, "file_path": "components.tf", "new_content": "# none\n"}),
            ("update_terraform_file", {"session_id": sid, "file_path": "outputs.tf", "new_content": "# none\n"}),
        ]:
            err, _, text = await call(client, name, args)
            check(not err, f"{name}: {text}")
        err, plan, text = await call(client, "run_terraform_plan", {"session_id": sid})
        check(not err and plan["plan_token"], f"plan: {text}")
    print(json.dumps({"session_id": sid, "stack_id": plan["stack_id"], "job_id": plan["job_id"], "ok": True}))


asyncio.run(main())
