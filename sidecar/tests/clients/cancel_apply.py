"""Cancels a running apply with the official Python MCP SDK and checks what follows.

Usage: cancel_apply.py MODE (stdio COMMAND... | http URL) --fixture ARCH.json [--server-stops]

The stack's apply runs a one-minute provisioner on the local engine. Once the APPLY job is
running (seen in the progress notifications), the call is abandoned: the SDK sends
`notifications/cancelled` (stdio, and HTTP before 2026-07-28) or closes the request's stream
(HTTP at 2026-07-28). Then the job must end CANCELED (asked through get_rm_job_status), and the
session must be usable again: a new plan runs (the lock was released). Prints one JSON line.

With --server-stops the client does not cancel: it prints a JSON line once the APPLY job runs
and waits for the server to go away (the test stops it), then prints its last line.
"""

import asyncio
import json
import os
import re
import sys
import time

from mcp import Client, StdioServerParameters

SLOW_TF = """\
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "sleep 60"
  }
}
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def call(client, name, args, progress=None):
    r = await client.call_tool(name, args, progress_callback=progress)
    text = " ".join(getattr(c, "text", "") for c in r.content)
    return r.is_error, r.structured_content, text


async def drive(client, fixture, server_stops=False):
    seen = {"protocol_version": client.protocol_version}
    err, s, text = await call(client, "create_session", {})
    check(not err, text)
    sid = s["id"]
    seen["session_id"] = sid
    for name, args in [
        ("save_architecture", {"session_id": sid, **fixture}),
        ("export_iac", {"session_id": sid}),
        ("update_terraform_file", {"session_id": sid, "file_path": "main.tf", "new_content": SLOW_TF}),
        ("update_terraform_file", {"session_id": sid, "file_path": "components.tf", "new_content": "# none\n"}),
        ("update_terraform_file", {"session_id": sid, "file_path": "outputs.tf", "new_content": "# none\n"}),
    ]:
        err, _, text = await call(client, name, args)
        check(not err, f"{name}: {text}")
    err, plan, text = await call(client, "run_terraform_plan", {"session_id": sid})
    check(not err and plan["plan_token"], f"plan: {text}")

    running = asyncio.Event()
    apply_job = {}

    async def on_progress(value, total, message):
        m = re.match(r"APPLY job (\S+): IN_PROGRESS", message or "")
        if m:
            apply_job["id"] = m.group(1)
        if apply_job and "local-exec" in (message or ""):
            running.set()

    task = asyncio.create_task(
        call(client, "run_terraform_apply", {"session_id": sid, "plan_token": plan["plan_token"]}, on_progress)
    )
    await asyncio.wait_for(running.wait(), 120)
    seen["apply_job"] = apply_job["id"]
    if server_stops:
        print(json.dumps({"running": True, **seen}), flush=True)
        try:
            err, _, text = await asyncio.wait_for(task, 200)
            seen["apply_error"] = text if err else None
        except Exception as e:  # the connection goes away with the server
            seen["apply_error"] = type(e).__name__
        seen["ok"] = True
        return seen
    cancelled_at = time.monotonic()
    task.cancel()
    try:
        await task
        raise AssertionError("the apply finished although it was cancelled")
    except asyncio.CancelledError:
        pass

    # The job ends CANCELED well before the provisioner's minute is over.
    state = None
    while time.monotonic() - cancelled_at < 45:
        err, job, text = await call(client, "get_rm_job_status", {"job_id": apply_job["id"]})
        check(not err, text)
        state = job["state"]
        if state == "CANCELED":
            break
        await asyncio.sleep(0.5)
    check(state == "CANCELED", f"the APPLY job ended {state}")
    seen["canceled_after_s"] = round(time.monotonic() - cancelled_at, 1)

    # The interrupted apply releases the session: a new plan runs once Terraform has stopped.
    deadline = time.monotonic() + 60
    while True:
        err, again, text = await call(client, "run_terraform_plan", {"session_id": sid})
        if not (err and "already has" in text) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    check(not err and again["plan_token"], f"plan after the cancel: {text}")
    seen["replanned"] = True
    seen["ok"] = True
    return seen


async def main():
    mode = sys.argv[1]
    kind = sys.argv[2]
    fixture_at = sys.argv.index("--fixture")
    fixture = json.load(open(sys.argv[fixture_at + 1]))
    rest = sys.argv[3:fixture_at]
    if kind == "stdio":
        env = {k: v for k, v in os.environ.items() if k.startswith(("GALLEY_", "OCI_", "PATH", "HOME"))}
        server = StdioServerParameters(command=rest[0], args=rest[1:], env=env)
    else:
        server = rest[0]
    server_stops = "--server-stops" in sys.argv
    try:
        async with Client(server, mode=mode) as client:
            seen = await drive(client, fixture, server_stops)
    except BaseException:
        if not server_stops:
            raise
        # The server went away under the client, as the test meant: what mattered was printed.
        seen = {"closed": True}
    print(json.dumps(seen))


asyncio.run(main())
