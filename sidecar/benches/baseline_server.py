"""The benchmark's baseline: a minimal Python FastMCP server with the sidecar's two read-only
design tools over the same files, so the same client can time both.

- get_session(session_id): reads <data dir>/sessions/<id>/session.json (the sidecar's file) and
  returns the session without its plan token, as the sidecar does.
- validate_architecture(session_id): reads the session and evaluates the sidecar's YAML rules
  (same rule kinds: connected_to with min/max, same_vcn, subnet_public, name_pattern, max_length,
  unique_names) plus the structural checks, returning {valid, errors, warnings, rules_checked}.

Usage: baseline_server.py DATA_DIR RULES_DIR PLACEMENT.json SCHEMAS.json (stdio; placement:
service type to network / in_vcn / in_subnet / optional_subnet / regional, from the sidecar's
catalog; schemas: the sidecar's output schema of each tool, declared here too so the client
validates the same structured content against the same schema for both servers).
"""

import glob
import json
import os
import re
import sys

import yaml
from fastmcp import FastMCP

DATA_DIR, RULES_DIR, PLACEMENT_FILE, SCHEMAS_FILE = sys.argv[1:5]
PLACEMENT = json.load(open(PLACEMENT_FILE))
SCHEMAS = json.load(open(SCHEMAS_FILE))
RULES = []
for path in sorted(glob.glob(os.path.join(RULES_DIR, "*.yml"))):
    for rule in yaml.safe_load(open(path))["rules"]:
        pattern = rule["requirement"].get("name_pattern")
        rule["_pattern"] = re.compile(pattern) if pattern else None
        RULES.append(rule)
SESSION_ID = re.compile(r"^s-[a-z2-7]{12}$")

mcp = FastMCP("baseline")


def load(session_id):
    if not SESSION_ID.match(session_id):
        raise ValueError(f"invalid session id {session_id!r}")
    with open(os.path.join(DATA_DIR, "sessions", session_id, "session.json")) as f:
        return json.load(f)


def matches(services, t):
    if isinstance(services, str):
        services = [services]
    return any(s == "*" or s == t for s in services)


def label(name):
    out = ""
    for c in name:
        if c.isascii() and c.isalnum():
            out += c.lower()
        elif not out.endswith("_"):
            out += "_"
    return out.strip("_") or "component"


class Arch:
    def __init__(self, arch):
        self.components = arch["components"]
        self.connections = arch["connections"]
        self.by_id = {c["id"]: c for c in self.components}

    def neighbours(self, cid, service_type):
        for conn in self.connections:
            if conn["source_id"] == cid:
                other = conn["target_id"]
            elif conn["target_id"] == cid:
                other = conn["source_id"]
            else:
                continue
            c = self.by_id.get(other)
            if c is not None and c["service_type"] == service_type:
                yield c

    def vcn_of(self, c):
        placement = PLACEMENT.get(c["service_type"])
        if placement == "network":
            return c["id"]
        if placement == "in_vcn":
            return next((v["id"] for v in self.neighbours(c["id"], "vcn")), None)
        if placement in ("in_subnet", "optional_subnet"):
            subnet = next(self.neighbours(c["id"], "subnet"), None)
            if subnet is None:
                return None
            return next((v["id"] for v in self.neighbours(subnet["id"], "vcn")), None)
        return None


def finding(rule, ids, message):
    return {"rule_id": rule["id"], "severity": rule["severity"], "component_ids": ids,
            "message": message, "recommendation": rule.get("recommendation", "")}


def evaluate(rule, a, out):
    cond, req = rule["condition"], rule["requirement"]
    sources = [c for c in a.components if matches(cond["source_service"], c["service_type"])]
    target = req.get("connected_to")
    if target:
        lo, hi = req.get("min", 1), req.get("max")
        for c in sources:
            n = sum(1 for _ in a.neighbours(c["id"], target))
            if n < lo:
                out.append(finding(rule, [c["id"]], f"{c['id']} ({c['service_type']}) is connected to {n} {target}, needs at least {lo}: {rule['description']}"))
            if hi is not None and n > hi:
                out.append(finding(rule, [c["id"]], f"{c['id']} ({c['service_type']}) is connected to {n} {target}, at most {hi} allowed: {rule['description']}"))
    if req.get("same_vcn"):
        for conn in a.connections:
            x, y = a.by_id.get(conn["source_id"]), a.by_id.get(conn["target_id"])
            if x is None or y is None:
                continue
            t = cond.get("target_service")

            def pair(p, q):
                return matches(cond["source_service"], p["service_type"]) and (t is None or matches(t, q["service_type"]))

            if not (pair(x, y) or pair(y, x)):
                continue
            vx, vy = a.vcn_of(x), a.vcn_of(y)
            if vx and vy and vx != vy:
                out.append(finding(rule, [x["id"], y["id"]], f"{x['id']} is in VCN {vx} but connected {y['id']} is in VCN {vy}"))
    if "subnet_public" in req:
        want = req["subnet_public"]
        for c in sources:
            for s in a.neighbours(c["id"], "subnet"):
                v = s.get("config", {}).get("public", False)
                public = v is True or v == "true"
                if public != want:
                    kind = "public" if public else "private"
                    out.append(finding(rule, [c["id"], s["id"]], f"{c['id']} ({c['service_type']}) is in {kind} subnet {s['id']}: {rule['description']}"))
    if rule["_pattern"] is not None or "max_length" in req:
        for c in sources:
            if rule["_pattern"] is not None and not rule["_pattern"].match(c["display_name"]):
                out.append(finding(rule, [c["id"]], f"display name {c['display_name']!r} does not match: {rule['description']}"))
            if "max_length" in req and len(c["display_name"]) > req["max_length"]:
                out.append(finding(rule, [c["id"]], f"display name {c['display_name']!r} is too long: {rule['description']}"))
    if req.get("unique_names"):
        seen = {}
        for c in sources:
            key = label(c["display_name"])
            if key in seen:
                out.append(finding(rule, [seen[key], c["id"]], f"{seen[key]} and {c['id']} both have the name {c['display_name']!r}"))
            else:
                seen[key] = c["id"]


@mcp.tool(output_schema=SCHEMAS["get_session"])
def get_session(session_id: str) -> dict:
    """Return a session: status, answers, architecture, stack and last job."""
    s = load(session_id)
    pending = s.pop("pending_plan", None)
    s["pending_plan_kind"] = pending["kind"] if pending else None
    return s


@mcp.tool(output_schema=SCHEMAS["validate_architecture"])
def validate_architecture(session_id: str) -> dict:
    """Check a session's architecture against the design rules."""
    a = Arch(load(session_id)["architecture"])
    out = []
    for c in a.components:
        if c["service_type"] not in PLACEMENT:
            out.append({"rule_id": "known-service-type", "severity": "error", "component_ids": [c["id"]],
                        "message": f"unknown service type {c['service_type']}", "recommendation": ""})
    for conn in a.connections:
        for end in (conn["source_id"], conn["target_id"]):
            if end not in a.by_id:
                out.append({"rule_id": "connection-ends-exist", "severity": "error", "component_ids": [end],
                            "message": f"connection names missing component {end}", "recommendation": ""})
    for rule in RULES:
        evaluate(rule, a, out)
    errors = [f for f in out if f["severity"] == "error"]
    warnings = [f for f in out if f["severity"] == "warning"]
    return {"valid": not errors, "errors": errors, "warnings": warnings, "rules_checked": len(RULES)}


if __name__ == "__main__":
    mcp.run(show_banner=False)
