"""Across a crash of galley-local (killed, then started again on the same data directory):
run with GALLEY_RESTART_PHASE=before, kill the engine, restart it, run with =after.
"""

import json
import os
import time

import oci
import pytest

from conftest import NAMESPACE, COMPARTMENT, create_stack, logs_text, wait_job

RM = oci.resource_manager.models
PHASE = os.environ.get("GALLEY_RESTART_PHASE")
STATE_FILE = os.environ.get("GALLEY_RESTART_STATE", "")


@pytest.mark.skipif(PHASE != "before", reason="before-crash phase")
def test_before_the_crash(rm, objects):
    done = create_stack(rm, "ok").data
    applied = rm.create_job(
        RM.CreateJobDetails(
            stack_id=done.id,
            job_operation_details=RM.CreateApplyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED"),
        )
    ).data
    assert wait_job(rm, applied.id).lifecycle_state == "SUCCEEDED"
    objects.create_bucket(NAMESPACE, oci.object_storage.models.CreateBucketDetails(name="survivor", compartment_id=COMPARTMENT))
    objects.put_object(NAMESPACE, "survivor", "kept.txt", b"still here")

    slow = create_stack(rm, "sleep").data
    running = rm.create_job(
        RM.CreateJobDetails(
            stack_id=slow.id,
            job_operation_details=RM.CreateApplyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED"),
        )
    ).data
    deadline = time.time() + 60
    while "local-exec" not in logs_text(rm, running.id):
        assert time.time() < deadline
        time.sleep(0.2)
    assert rm.get_job(running.id).data.lifecycle_state == "IN_PROGRESS"
    with open(STATE_FILE, "w") as f:
        json.dump({"stack": done.id, "applied": applied.id, "running": running.id, "slow": slow.id}, f)


@pytest.mark.skipif(PHASE != "after", reason="after-restart phase")
def test_after_the_restart(rm, objects):
    with open(STATE_FILE) as f:
        ids = json.load(f)
    assert rm.get_stack(ids["stack"]).data.lifecycle_state == "ACTIVE"
    assert rm.get_job(ids["applied"]).data.lifecycle_state == "SUCCEEDED"
    assert "Apply complete!" in logs_text(rm, ids["applied"])
    state = json.loads(rm.get_stack_tf_state(ids["stack"]).data.content)
    assert state["resources"][0]["type"] == "terraform_data"
    assert objects.get_object(NAMESPACE, "survivor", "kept.txt").data.content == b"still here"

    interrupted = rm.get_job(ids["running"]).data
    assert interrupted.lifecycle_state == "FAILED"
    assert "interrupted by a galley-local restart" in interrupted.failure_details.message
    # The stack is usable again.
    plan = rm.create_job(
        RM.CreateJobDetails(stack_id=ids["slow"], job_operation_details=RM.CreatePlanJobOperationDetails())
    ).data
    assert wait_job(rm, plan.id).lifecycle_state == "SUCCEEDED"
