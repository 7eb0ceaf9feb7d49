"""Drives a whole session to a real deployment with the official Python MCP SDK: design,
validate, export, a failing plan with its file and line, plan, apply with the plan token,
destroy with the destroy preview's token, and the refusals on the way (no token, a made-up
token, a file changed after plan, a stale token, an apply token used for destroy).

Usage: deploy_session.py MODE (stdio COMMAND... | http URL) --fixture ARCH.json --marker PATH

The stack runs on a Resource Manager without the OCI provider (a local engine), so the
exported files that need it are replaced with update_terraform_file by a configuration of
`terraform_data` resources; variables.tf stays as exported (Resource Manager fills in region,
compartment_ocid and tenancy_ocid). The destroy provisioner writes PATH, proving the DESTROY job
ran. Prints one JSON line with what it saw; exits non-zero when a check fails.
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters

MAIN_TF = """\
variable "greeting" {
  type    = string
  default = "hello"
}

variable "marker" {
  type = string
}

resource "terraform_data" "greeting" {
  input = var.greeting
}

resource "terraform_data" "marker" {
  input = var.marker

  provisioner "local-exec" {
    when    = destroy
    command = "echo destroyed > ${self.input}"
  }
}
"""

BROKEN_TF = MAIN_TF + """
resource "terraform_data" "broken" {
  input = terraform_data.missing.id
}
"""

OUTPUTS_TF = """\
output "greeting" {
  value = terraform_data.greeting.output
}
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def call(client, name, args, progress=None):
    r = await client.call_tool(name, args, progress_callback=progress)
    text = " ".join(getattr(c, "text", "") for c in r.content)
    return r.is_error, r.structured_content, text


async def put(client, sid, path, content):
    err, _, text = await call(client, "update_terraform_file", {"session_id": sid, "file_path": path, "new_content": content})
    check(not err, f"update {path}: {text}")


async def drive(client, fixture, marker):
    seen = {"protocol_version": client.protocol_version}
    err, s, text = await call(client, "create_session", {"answers": {"workload": "deploy test"}})
    check(not err, text)
    sid = s["id"]
    seen["session_id"] = sid
    err, _, text = await call(client, "save_architecture", {"session_id": sid, **fixture})
    check(not err, text)
    err, report, text = await call(client, "validate_architecture", {"session_id": sid})
    check(not err and report["valid"], text)
    err, exported, text = await call(client, "export_iac", {"session_id": sid})
    check(not err and "variables.tf" in [f["path"] for f in exported["files"]], text)

    # The local engine has no OCI provider: a terraform_data stack in place of the OCI one.
    await put(client, sid, "main.tf", BROKEN_TF)
    await put(client, sid, "components.tf", "# OCI resources left out: the local engine has no OCI provider.\n")
    await put(client, sid, "outputs.tf", OUTPUTS_TF)
    variables = {"marker": marker, "compartment_ocid": os.environ.get("DEPLOY_COMPARTMENT", "")}
    variables = {k: v for k, v in variables.items() if v}

    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid})
    check(err and "plan_token is required" in text, f"apply without a token: {text}")

    # A broken stack: the PLAN job fails and the error points at the file and line.
    err, r, text = await call(client, "run_terraform_plan", {"session_id": sid, "variables": variables})
    check(err and r and r["success"] is False and r["plan_token"] is None, f"broken plan fails: {text}")
    stack_errors = [e for e in r["errors"] if e["origin"] == "stack"]
    check(any(e["file"] == "main.tf" and e["line"] == 24 for e in stack_errors), f"error with file and line: {r['errors']}")
    check(r["job_state"] == "FAILED" and r["job_id"].startswith("ocid1.ormjob."), f"failed job reported: {r}")
    check(r["stack_id"] and r["stack_id"].startswith("ocid1.ormstack."), r)
    seen["failed_plan_job"] = r["job_id"]
    first_stack = r["stack_id"]

    # Fixed: the plan succeeds, on the same stack.
    await put(client, sid, "main.tf", MAIN_TF)
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, message))

    err, plan, text = await call(client, "run_terraform_plan", {"session_id": sid, "variables": variables}, on_progress)
    check(not err and plan["success"], f"plan: {text}")
    check(plan["plan_summary"] == {"add": 2, "change": 0, "destroy": 0}, f"summary: {plan}")
    check(plan["stack_id"] == first_stack, "the stack is kept across plans")
    check(plan["job_state"] == "SUCCEEDED" and plan["plan_token"], plan)
    check(any("Plan: 2 to add" in l for l in plan["log_tail"]), plan["log_tail"])
    check([v for v, _ in progress] == sorted(set(v for v, _ in progress)), "progress increases strictly")
    check(any(m and "PLAN job" in m and "SUCCEEDED" in m for _, m in progress), f"job states in progress: {progress[-5:]}")
    check(any(m and m.startswith("[PLAN job]") for _, m in progress), "job log lines in progress")
    seen["plan_job"] = plan["job_id"]
    seen["stack_id"] = plan["stack_id"]
    seen["progress"] = len(progress)

    err, job, text = await call(client, "get_rm_job_status", {"job_id": plan["job_id"]})
    check(not err and job["state"] == "SUCCEEDED" and job["operation"] == "PLAN", text)
    check(job["session_id"] == sid and job["stack_id"] == plan["stack_id"], job)

    # Refusals: a made-up token, a file changed after the plan, a stale token.
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": "pt-made-up"})
    check(err and "does not match" in text, f"made-up token: {text}")
    stale = plan["plan_token"]
    await put(client, sid, "outputs.tf", OUTPUTS_TF + "\n# reviewed again\n")
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": stale})
    check(err and ("changed" in text or "no reviewed plan" in text), f"file changed after plan: {text}")
    err, plan, text = await call(client, "run_terraform_plan", {"session_id": sid, "variables": variables})
    check(not err and plan["plan_token"] and plan["plan_token"] != stale, text)
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": stale})
    check(err and "does not match" in text, f"stale token: {text}")

    err, applied, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": plan["plan_token"]})
    check(not err and applied["success"], f"apply: {text}")
    check(applied["job_state"] == "SUCCEEDED" and applied["outputs"].get("greeting") == "hello", applied)
    check(applied["plan_summary"] == {"add": 2, "change": 0, "destroy": 0}, applied)
    err, job, text = await call(client, "get_rm_job_status", {"job_id": applied["job_id"]})
    check(not err and job["operation"] == "APPLY" and job["state"] == "SUCCEEDED", text)
    seen["apply_job"] = applied["job_id"]
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": plan["plan_token"]})
    check(err and "no reviewed plan" in text, f"a token is good once: {text}")

    # Destroy: only with the destroy preview's token.
    err, _, text = await call(client, "run_terraform_destroy", {"session_id": sid, "plan_token": plan["plan_token"]})
    check(err, f"the apply token does not destroy: {text}")
    err, preview, text = await call(client, "run_terraform_plan", {"session_id": sid, "destroy": True})
    check(not err and preview["plan_token"], f"destroy preview: {text}")
    check(sorted(preview["resources"]) == ["terraform_data.greeting", "terraform_data.marker"], preview)
    check(preview["plan_summary"] == {"add": 0, "change": 0, "destroy": 2}, preview)
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": preview["plan_token"]})
    check(err and "destroy plan" in text, f"a destroy token does not apply: {text}")
    check(not os.path.exists(marker), "nothing destroyed yet")
    err, destroyed, text = await call(client, "run_terraform_destroy", {"session_id": sid, "plan_token": preview["plan_token"]})
    check(not err and destroyed["success"], f"destroy: {text}")
    check(destroyed["job_state"] == "SUCCEEDED" and destroyed["stack_id"] == seen["stack_id"], destroyed)
    check(os.path.exists(marker), "the DESTROY job ran the destroy provisioner")
    # The stack was deleted after its DESTROY job, and its jobs with it.
    err, _, text = await call(client, "get_rm_job_status", {"job_id": destroyed["job_id"]})
    check(err and "deletes the stack together with its jobs" in text, f"job of a deleted stack: {text}")
    seen["destroy_job"] = destroyed["job_id"]
    err, s, text = await call(client, "get_session", {"session_id": sid})
    check(not err and s["status"] == "destroyed", text)
    seen["ok"] = True
    return seen


async def main():
    mode = sys.argv[1]
    kind = sys.argv[2]
    fixture_at = sys.argv.index("--fixture")
    marker_at = sys.argv.index("--marker")
    fixture = json.load(open(sys.argv[fixture_at + 1]))
    marker = sys.argv[marker_at + 1]
    rest = sys.argv[3:min(fixture_at, marker_at)]
    if kind == "stdio":
        # The SDK passes only a safe subset of the environment to the server: hand on the
        # sidecar's settings and the OCI ones the provider reads.
        env = {k: v for k, v in os.environ.items() if k.startswith(("GALLEY_", "OCI_", "PATH", "HOME"))}
        server = StdioServerParameters(command=rest[0], args=rest[1:], env=env)
    else:
        server = rest[0]
    async with Client(server, mode=mode) as client:
        seen = await drive(client, fixture, marker)
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main())
