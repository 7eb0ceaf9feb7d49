"""The baseline of the plan benchmark (benches/plan.rs): the way the original design ran a plan,
with the official OCI Python SDK: CreateJob of a PLAN job on the stack, then GetJob every 5
seconds until the job ends. Timed inside Python (imports do not count).

Usage: python sdk_plan_job.py CONFIG_FILE ENDPOINT STACK_ID RUNS
Prints one JSON object: runs, each with wall_ms (CreateJob to the GetJob that saw the end) and
job_ms (the job's timeCreated to timeFinished), and sdk_version.
"""

import json
import sys
import time

import oci

POLL_SECONDS = 5.0
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}


def main():
    config_file, endpoint, stack_id, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    config = oci.config.from_file(config_file, "DEFAULT")
    rm = oci.resource_manager.ResourceManagerClient(config, service_endpoint=endpoint)
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        job = rm.create_job(
            oci.resource_manager.models.CreateJobDetails(
                stack_id=stack_id,
                job_operation_details=oci.resource_manager.models.CreatePlanJobOperationDetails(),
            )
        ).data
        while job.lifecycle_state not in TERMINAL:
            time.sleep(POLL_SECONDS)
            job = rm.get_job(job.id).data
        wall = time.perf_counter() - started
        if job.lifecycle_state != "SUCCEEDED":
            raise SystemExit(f"PLAN job {job.id} ended {job.lifecycle_state}")
        job_s = (job.time_finished - job.time_created).total_seconds()
        out.append({"wall_ms": wall * 1000.0, "job_ms": job_s * 1000.0})
    print(json.dumps({"runs": out, "sdk_version": oci.__version__}))


if __name__ == "__main__":
    main()
