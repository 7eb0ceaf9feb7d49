"""galley-local driven by the official OCI Python SDK: Resource Manager, Instance Agent and
Object Storage calls with real API-key signing, every answer checked against the SDK models.
"""

import datetime
import json
import os
import time

import oci
import pytest
from oci._vendor import requests  # the HTTP library the SDK itself signs with

from conftest import (
    COMPARTMENT,
    ENDPOINT,
    INSTANCE,
    NAMESPACE,
    client,
    conform,
    create_stack,
    logs_text,
    make_signer,
    wait_job,
    zip_fixture,
)

RM = oci.resource_manager.models
IA = oci.compute_instance_agent.models
OS = oci.object_storage.models


def test_stack_plan_apply_logs_state_destroy_and_delete(rm, rm_raw):
    stack = create_stack(rm, "ok", {"greeting": "conformance"}).data
    assert stack.id.startswith("ocid1.ormstack.oc1..")
    assert stack.lifecycle_state == "ACTIVE"
    assert stack.config_source.config_source_type == "ZIP_UPLOAD"
    conform(rm_raw.get_stack(stack.id).data, "Stack", RM)

    plan = rm.create_job(
        RM.CreateJobDetails(stack_id=stack.id, job_operation_details=RM.CreatePlanJobOperationDetails())
    ).data
    assert plan.lifecycle_state == "ACCEPTED"
    plan = wait_job(rm, plan.id)
    assert plan.lifecycle_state == "SUCCEEDED", plan.failure_details
    conform(rm_raw.get_job(plan.id).data, "Job", RM)
    assert "terraform_data.greeting will be created" in logs_text(rm, plan.id)

    apply = rm.create_job(
        RM.CreateJobDetails(
            stack_id=stack.id,
            job_operation_details=RM.CreateApplyJobOperationDetails(
                execution_plan_strategy="FROM_PLAN_JOB_ID", execution_plan_job_id=plan.id
            ),
        )
    ).data
    assert apply.job_operation_details.execution_plan_job_id == plan.id
    apply = wait_job(rm, apply.id)
    assert apply.lifecycle_state == "SUCCEEDED", apply.failure_details
    assert apply.resolved_plan_job_id == plan.id
    assert apply.time_finished >= apply.time_created
    conform(rm_raw.get_job(apply.id).data, "Job", RM)

    # Logs as entries (paged by the SDK helper) and as content.
    entries = oci.pagination.list_call_get_all_results(rm.get_job_logs, apply.id, limit=5).data
    assert len(entries) > 5
    assert all(e.type == "TERRAFORM_CONSOLE" and e.level in ("INFO", "ERROR") for e in entries)
    assert any("Apply complete! Resources: 1 added" in e.message for e in entries)
    conform(rm_raw.get_job_logs(apply.id, limit=1000).data, "list[LogEntry]", RM)
    since = entries[-1].timestamp
    tail = rm.get_job_logs(apply.id, timestamp_greater_than_or_equal_to=since).data
    assert 0 < len(tail) < len(entries)
    content = logs_text(rm, apply.id)
    assert 'greeting = "conformance from us-ashburn-1"' in content
    assert COMPARTMENT in content  # compartment_ocid is injected as RM injects it

    state = json.loads(rm.get_stack_tf_state(stack.id).data.content)
    assert [r["type"] for r in state["resources"]] == ["terraform_data"]
    assert state["outputs"]["greeting"]["value"] == "conformance from us-ashburn-1"
    job_state = json.loads(rm.get_job_tf_state(apply.id).data.content)
    assert job_state["serial"] == state["serial"]

    jobs = rm.list_jobs(stack_id=stack.id).data
    assert [j.id for j in jobs] == [apply.id, plan.id]
    conform(rm_raw.list_jobs(stack_id=stack.id).data, "list[JobSummary]", RM)
    conform(rm_raw.list_stacks(compartment_id=COMPARTMENT).data, "list[StackSummary]", RM)

    updated = rm.update_stack(stack.id, RM.UpdateStackDetails(description="updated")).data
    assert updated.description == "updated"

    destroy = rm.create_job(
        RM.CreateJobDetails(
            stack_id=stack.id,
            job_operation_details=RM.CreateDestroyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED"),
        )
    ).data
    destroy = wait_job(rm, destroy.id)
    assert destroy.lifecycle_state == "SUCCEEDED", destroy.failure_details
    assert json.loads(rm.get_stack_tf_state(stack.id).data.content)["resources"] == []

    rm.delete_stack(stack.id)
    assert rm.get_stack(stack.id).data.lifecycle_state == "DELETED"
    with pytest.raises(oci.exceptions.ServiceError) as err:
        rm.get_job(plan.id)
    assert err.value.status == 404 and err.value.code == "NotAuthorizedOrNotFound"


def apply_auto_approved(rm, stack_id):
    job = rm.create_job(
        RM.CreateJobDetails(
            stack_id=stack_id,
            job_operation_details=RM.CreateApplyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED"),
        )
    ).data
    return wait_job(rm, job.id)


def test_a_stale_plan_job_is_refused_as_terraform_refuses_a_stale_plan(rm):
    stack = create_stack(rm, "ok", {"greeting": "before"}).data
    plan = rm.create_job(
        RM.CreateJobDetails(stack_id=stack.id, job_operation_details=RM.CreatePlanJobOperationDetails())
    ).data
    plan = wait_job(rm, plan.id)
    assert plan.lifecycle_state == "SUCCEEDED", plan.failure_details
    rm.update_stack(stack.id, RM.UpdateStackDetails(variables={"greeting": "after"}))
    apply = rm.create_job(
        RM.CreateJobDetails(
            stack_id=stack.id,
            job_operation_details=RM.CreateApplyJobOperationDetails(
                execution_plan_strategy="FROM_PLAN_JOB_ID", execution_plan_job_id=plan.id
            ),
        )
    ).data
    apply = wait_job(rm, apply.id)
    assert apply.lifecycle_state == "FAILED"
    assert apply.failure_details.code == "TERRAFORM_EXECUTION_ERROR"
    assert apply.failure_details.message.startswith("Error: Saved plan is stale"), apply.failure_details
    assert plan.id in apply.failure_details.message
    assert apply.job_operation_details.execution_plan_job_id == plan.id


def test_drift_detection_and_its_work_request(rm, rm_raw):
    stack = create_stack(rm, "ok", {"greeting": "drift"}).data
    # A stack that never applied anything cannot be checked.
    with pytest.raises(oci.exceptions.ServiceError) as err:
        rm.detect_stack_drift(stack.id)
    assert err.value.status == 409 and err.value.code == "IncorrectState"

    assert apply_auto_approved(rm, stack.id).lifecycle_state == "SUCCEEDED"
    started = rm.detect_stack_drift(stack.id, detect_stack_drift_details=RM.DetectStackDriftDetails())
    assert started.status == 202 and started.data is None
    wr_id = started.headers["opc-work-request-id"]
    # The SDK's own waiter, on the work request's status.
    done = oci.wait_until(rm, rm.get_work_request(wr_id), "status", "SUCCEEDED", max_wait_seconds=120)
    wr = done.data
    assert wr.operation_type == "DRIFT_DETECTION" and wr.percent_complete == 100
    assert [r.identifier for r in wr.resources] == [stack.id]
    conform(rm_raw.get_work_request(wr_id).data, "WorkRequest", RM)
    conform(rm_raw.list_work_requests(COMPARTMENT, resource_id=stack.id).data, "list[WorkRequestSummary]", RM)
    assert rm.list_work_requests(COMPARTMENT, resource_id=stack.id).data[0].id == wr_id
    logs = rm.list_work_request_logs(wr_id).data
    assert any("-refresh-only" in entry.message for entry in logs)
    conform(rm_raw.list_work_request_logs(wr_id).data, "list[WorkRequestLogEntry]", RM)

    drift = rm.list_stack_resource_drift_details(stack.id, work_request_id=wr_id).data
    assert [(d.resource_type, d.resource_name, d.resource_drift_status) for d in drift.items] == [
        ("terraform_data", "greeting", "IN_SYNC")
    ]
    conform(rm_raw.list_stack_resource_drift_details(stack.id, work_request_id=wr_id).data,
            "StackResourceDriftCollection", RM)
    only_drifted = rm.list_stack_resource_drift_details(
        stack.id, resource_drift_status=["MODIFIED", "DELETED"]
    ).data
    assert only_drifted.items == []
    checked = rm.get_stack(stack.id).data
    assert checked.stack_drift_status == "IN_SYNC"
    assert checked.time_drift_last_checked is not None
    conform(rm_raw.get_stack(stack.id).data, "Stack", RM)


def test_a_failed_drift_detection_has_errors(rm, rm_raw):
    stack = create_stack(rm, "ok").data
    assert apply_auto_approved(rm, stack.id).lifecycle_state == "SUCCEEDED"
    # The configuration breaks after the apply: refreshing the state fails.
    rm.update_stack(
        stack.id,
        RM.UpdateStackDetails(
            config_source=RM.UpdateZipUploadConfigSourceDetails(zip_file_base64_encoded=zip_fixture("broken"))
        ),
    )
    wr_id = rm.detect_stack_drift(stack.id).headers["opc-work-request-id"]
    wr = oci.wait_until(
        rm,
        rm.get_work_request(wr_id),
        evaluate_response=lambda r: r.data.status in ("SUCCEEDED", "FAILED"),
        max_wait_seconds=120,
    ).data
    assert wr.status == "FAILED"
    assert wr.time_finished is not None
    errors = rm.list_work_request_errors(wr_id).data
    assert errors and "undeclared input variable" in errors[0].message
    conform(rm_raw.list_work_request_errors(wr_id).data, "list[WorkRequestError]", RM)


def test_a_failing_configuration_has_failure_details(rm, rm_raw):
    stack = create_stack(rm, "broken").data
    job = rm.create_job(
        RM.CreateJobDetails(
            stack_id=stack.id,
            job_operation_details=RM.CreateApplyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED"),
        )
    ).data
    job = wait_job(rm, job.id)
    assert job.lifecycle_state == "FAILED"
    assert job.failure_details.code == "TERRAFORM_EXECUTION_ERROR"
    assert "undeclared input variable" in job.failure_details.message
    conform(rm_raw.get_job(job.id).data, "Job", RM)


def test_a_running_job_can_be_cancelled(rm, rm_raw):
    stack = create_stack(rm, "sleep").data
    job = rm.create_job(
        RM.CreateJobDetails(
            stack_id=stack.id,
            job_operation_details=RM.CreateApplyJobOperationDetails(execution_plan_strategy="AUTO_APPROVED"),
        )
    ).data
    deadline = time.time() + 60
    while "local-exec" not in logs_text(rm, job.id):
        assert time.time() < deadline
        time.sleep(0.2)
    with pytest.raises(oci.exceptions.ServiceError) as err:
        rm.delete_stack(stack.id)
    assert err.value.status == 409 and err.value.code == "IncorrectState"
    started = time.time()
    rm.cancel_job(job.id)
    job = wait_job(rm, job.id)
    assert job.lifecycle_state == "CANCELED"
    assert job.cancellation_details.is_forced is False
    assert time.time() - started < 20
    conform(rm_raw.get_job(job.id).data, "Job", RM)
    rm.delete_stack(stack.id)


def test_a_retry_token_creates_one_stack(rm):
    first = create_stack(rm, "ok", retry_token="conformance-retry").data
    second = create_stack(rm, "ok", retry_token="conformance-retry").data
    assert first.id == second.id
    assert [s.id for s in rm.list_stacks(compartment_id=COMPARTMENT, display_name="conformance-ok").data].count(first.id) == 1
    rm.delete_stack(first.id)


def test_instance_agent_command_with_a_stand_in_docker(agent, agent_raw):
    script = "docker build -t app .\necho done\n"
    details = IA.CreateInstanceAgentCommandDetails(
        compartment_id=COMPARTMENT,
        execution_time_out_in_seconds=60,
        display_name="build",
        target=IA.InstanceAgentCommandTarget(instance_id=INSTANCE),
        content=IA.InstanceAgentCommandContent(
            source=IA.InstanceAgentCommandSourceViaTextDetails(text=script),
            output=IA.InstanceAgentCommandOutputViaTextDetails(),
        ),
    )
    command = agent.create_instance_agent_command(details).data
    assert command.id.startswith("ocid1.instanceagentcommand.oc1..")
    conform(agent_raw.get_instance_agent_command(command.id).data, "InstanceAgentCommand", IA)
    deadline = time.time() + 60
    while True:
        execution = agent.get_instance_agent_command_execution(command.id, instance_id=INSTANCE).data
        if execution.lifecycle_state not in ("ACCEPTED", "IN_PROGRESS"):
            break
        assert time.time() < deadline
        time.sleep(0.2)
    assert execution.lifecycle_state == "SUCCEEDED"
    assert execution.content.output_type == "TEXT"
    assert execution.content.exit_code == 0
    assert "stand-in docker build -t app ." in execution.content.text
    assert "done" in execution.content.text
    conform(
        agent_raw.get_instance_agent_command_execution(command.id, instance_id=INSTANCE).data,
        "InstanceAgentCommandExecution",
        IA,
    )
    conform(
        agent_raw.list_instance_agent_command_executions(COMPARTMENT, INSTANCE).data,
        "list[InstanceAgentCommandExecutionSummary]",
        IA,
    )
    conform(agent_raw.list_instance_agent_commands(COMPARTMENT).data, "list[InstanceAgentCommandSummary]", IA)

    timed_out = agent.create_instance_agent_command(
        IA.CreateInstanceAgentCommandDetails(
            compartment_id=COMPARTMENT,
            execution_time_out_in_seconds=1,
            target=IA.InstanceAgentCommandTarget(instance_id=INSTANCE),
            content=IA.InstanceAgentCommandContent(
                source=IA.InstanceAgentCommandSourceViaTextDetails(text="sleep 30"),
                output=IA.InstanceAgentCommandOutputViaTextDetails(),
            ),
        )
    ).data
    deadline = time.time() + 30
    while agent.get_instance_agent_command_execution(timed_out.id, instance_id=INSTANCE).data.lifecycle_state in ("ACCEPTED", "IN_PROGRESS"):
        assert time.time() < deadline
        time.sleep(0.2)
    assert agent.get_instance_agent_command_execution(timed_out.id, instance_id=INSTANCE).data.lifecycle_state == "TIMED_OUT"


def test_object_storage_and_a_pre_authenticated_fetch(objects, objects_raw):
    assert objects.get_namespace().data == NAMESPACE
    bucket = objects.create_bucket(NAMESPACE, OS.CreateBucketDetails(name="conformance", compartment_id=COMPARTMENT)).data
    assert bucket.name == "conformance"
    conform(objects_raw.get_bucket(NAMESPACE, "conformance").data, "Bucket", OS)
    conform(objects_raw.list_buckets(NAMESPACE, COMPARTMENT).data, "list[BucketSummary]", OS)

    name = "builds/app v1.tar.gz"
    put = objects.put_object(NAMESPACE, "conformance", name, b"artifact bytes", opc_meta={"build": "7"})
    assert put.headers["etag"]
    got = objects.get_object(NAMESPACE, "conformance", name)
    assert got.data.content == b"artifact bytes"
    assert got.headers["opc-meta-build"] == "7"
    head = objects.head_object(NAMESPACE, "conformance", name)
    assert head.headers["content-length"] == "14"
    assert head.headers["etag"] == put.headers["etag"]
    listed = objects.list_objects(NAMESPACE, "conformance", fields="name,size,md5,timeCreated").data
    assert [o.name for o in listed.objects] == [name]
    assert listed.objects[0].size == 14
    conform(objects_raw.list_objects(NAMESPACE, "conformance", fields="name,size,md5,etag,timeCreated").data, "ListObjects", OS)

    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    par = objects.create_preauthenticated_request(
        NAMESPACE,
        "conformance",
        OS.CreatePreauthenticatedRequestDetails(name="fetch", object_name=name, access_type="ObjectRead", time_expires=expires),
    ).data
    assert par.access_uri.startswith("/p/")
    fetched = requests.get(ENDPOINT + par.access_uri)  # no signature: the token is the credential
    assert fetched.status_code == 200 and fetched.content == b"artifact bytes"
    conform(objects_raw.get_preauthenticated_request(NAMESPACE, "conformance", par.id).data, "PreauthenticatedRequestSummary", OS)
    objects.delete_preauthenticated_request(NAMESPACE, "conformance", par.id)
    assert requests.get(ENDPOINT + par.access_uri).status_code == 404

    objects.delete_object(NAMESPACE, "conformance", name)
    with pytest.raises(oci.exceptions.ServiceError) as err:
        objects.get_object(NAMESPACE, "conformance", name)
    assert err.value.status == 404
    objects.delete_bucket(NAMESPACE, "conformance")


def test_a_request_signed_with_another_key_gets_401():
    other = client(oci.resource_manager.ResourceManagerClient, key_file=os.environ["GALLEY_OTHER_KEY_FILE"])
    with pytest.raises(oci.exceptions.ServiceError) as err:
        other.list_stacks(compartment_id=COMPARTMENT)
    assert err.value.status == 401
    assert err.value.code == "NotAuthenticated"
    assert err.value.request_id


def test_a_request_tampered_with_after_signing_gets_401(rm):
    signer = make_signer(os.environ["GALLEY_KEY_FILE"])
    url = f"{ENDPOINT}/20180917/stacks"
    body = {"compartmentId": COMPARTMENT, "displayName": "x", "configSource": {"configSourceType": "ZIP_UPLOAD", "zipFileBase64Encoded": ""}}
    session = requests.Session()

    untouched = requests.Request("GET", url + f"?compartmentId={COMPARTMENT}", auth=signer).prepare()
    assert session.send(untouched).status_code == 200

    body_changed = requests.Request("POST", url, json=body, auth=signer).prepare()
    body_changed.body = body_changed.body.replace(b'"x"', b'"y"')
    r = session.send(body_changed)
    assert r.status_code == 401 and r.json()["code"] == "NotAuthenticated"

    query_changed = requests.Request("GET", url + "?compartmentId=a", auth=signer).prepare()
    query_changed.url = url + "?compartmentId=b"
    r = session.send(query_changed)
    assert r.status_code == 401 and r.json()["code"] == "NotAuthenticated"


def test_injected_429_is_retried_by_the_sdk(rm):
    stack = create_stack(rm, "ok").data
    arm = {"route": "GET /20180917/stacks/*", "kind": "status", "status": 429, "count": 1, "retry_after_secs": 1}
    assert requests.post(ENDPOINT + "/_galley/faults", json=arm).status_code == 201
    with pytest.raises(oci.exceptions.ServiceError) as err:
        rm.get_stack(stack.id)
    assert err.value.status == 429 and err.value.code == "TooManyRequests"
    assert err.value.headers["retry-after"] == "1"

    assert requests.post(ENDPOINT + "/_galley/faults", json=arm).status_code == 201
    got = rm.get_stack(stack.id, retry_strategy=oci.retry.DEFAULT_RETRY_STRATEGY).data
    assert got.id == stack.id
    rm.delete_stack(stack.id)
