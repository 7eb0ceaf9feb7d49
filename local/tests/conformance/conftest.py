"""Shared fixtures of the conformance suite: clients of the official OCI SDK pointed at a
running galley-local, and a checker that a raw JSON answer fits the SDK's models exactly.

The engine and its keys are provided by the Rust test that runs this suite
(local/tests/conformance.rs) through GALLEY_* environment variables.
"""

import base64
import datetime
import io
import os
import time
import zipfile

import oci
import pytest

ENDPOINT = os.environ["GALLEY_ENDPOINT"]
NAMESPACE = os.environ["GALLEY_NAMESPACE"]
FIXTURES = os.environ["GALLEY_FIXTURES"]
COMPARTMENT = "ocid1.compartment.oc1..conformance"
INSTANCE = "ocid1.instance.oc1..conformance"


def make_config(key_file):
    return {
        "tenancy": os.environ["GALLEY_TENANCY"],
        "user": os.environ["GALLEY_USER"],
        "fingerprint": os.environ["GALLEY_FINGERPRINT"],
        "key_file": key_file,
        "region": "us-ashburn-1",
    }


def make_signer(key_file):
    c = make_config(key_file)
    return oci.signer.Signer(c["tenancy"], c["user"], c["fingerprint"], c["key_file"])


def client(cls, key_file=None, raw=False):
    key_file = key_file or os.environ["GALLEY_KEY_FILE"]
    return cls(
        make_config(key_file),
        signer=make_signer(key_file),
        service_endpoint=ENDPOINT,
        skip_deserialization=raw,
        # Every answer reaches the test as sent: no retries (tests that want the SDK's retry
        # ask for it per call) and no circuit breaker tripped by injected faults.
        retry_strategy=oci.retry.NoneRetryStrategy(),
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
    )


@pytest.fixture(scope="session")
def rm():
    return client(oci.resource_manager.ResourceManagerClient)


@pytest.fixture(scope="session")
def rm_raw():
    return client(oci.resource_manager.ResourceManagerClient, raw=True)


@pytest.fixture(scope="session")
def agent():
    return client(oci.compute_instance_agent.ComputeInstanceAgentClient)


@pytest.fixture(scope="session")
def agent_raw():
    return client(oci.compute_instance_agent.ComputeInstanceAgentClient, raw=True)


@pytest.fixture(scope="session")
def objects():
    return client(oci.object_storage.ObjectStorageClient)


@pytest.fixture(scope="session")
def objects_raw():
    return client(oci.object_storage.ObjectStorageClient, raw=True)


def zip_fixture(name):
    """Base64 zip of a Terraform configuration under tests/fixtures/tf."""
    root = os.path.join(FIXTURES, "tf", name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for dirpath, _, files in os.walk(root):
            for f in files:
                full = os.path.join(dirpath, f)
                z.write(full, os.path.relpath(full, root))
    return base64.b64encode(buf.getvalue()).decode()


def create_stack(rm, fixture, variables=None, retry_token=None):
    models = oci.resource_manager.models
    details = models.CreateStackDetails(
        compartment_id=COMPARTMENT,
        display_name=f"conformance-{fixture}",
        config_source=models.CreateZipUploadConfigSourceDetails(
            zip_file_base64_encoded=zip_fixture(fixture)
        ),
        variables=variables or {},
        terraform_version="1.5.x",
    )
    kwargs = {"opc_retry_token": retry_token} if retry_token else {}
    return rm.create_stack(details, **kwargs)


def wait_job(rm, job_id, timeout=120, until=("SUCCEEDED", "FAILED", "CANCELED")):
    deadline = time.time() + timeout
    while True:
        job = rm.get_job(job_id).data
        if job.lifecycle_state in until:
            return job
        assert time.time() < deadline, f"job {job_id} stuck in {job.lifecycle_state}"
        time.sleep(0.2)


def logs_text(rm, job_id):
    return rm.get_job_logs_content(job_id).data


# --- exact shape checks against the SDK's models ------------------------------------------


def conform(value, type_name, module, path="$"):
    """Asserts that raw JSON `value` fits SDK type `type_name` (a swagger type string or a
    model class name in `module`): every key is a field of the model (after subtype
    dispatch), every value has the field's JSON type, every enum value is one the SDK knows.
    """
    if value is None:
        return
    if type_name == "str":
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
    elif type_name == "int":
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected an integer, got {value!r}"
    elif type_name == "float":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: {value!r}"
    elif type_name == "bool":
        assert isinstance(value, bool), f"{path}: expected a boolean, got {value!r}"
    elif type_name == "datetime":
        assert isinstance(value, str), f"{path}: expected a timestamp string"
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert parsed.tzinfo is not None, f"{path}: timestamp {value} has no zone"
        assert value.endswith("Z") and "." in value, f"{path}: {value} is not RFC 3339 UTC with milliseconds"
    elif type_name == "object":
        pass
    elif type_name.startswith("list["):
        assert isinstance(value, list), f"{path}: expected a list"
        for i, item in enumerate(value):
            conform(item, type_name[5:-1], module, f"{path}[{i}]")
    elif type_name.startswith("dict("):
        assert isinstance(value, dict), f"{path}: expected an object"
        inner = type_name[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            conform(v, inner, module, f"{path}.{k}")
    else:
        cls = getattr(module, type_name)
        assert isinstance(value, dict), f"{path}: expected a {type_name} object, got {value!r}"
        if hasattr(cls, "get_subtype"):
            cls = getattr(module, cls.get_subtype(value))
        model = cls()
        by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
        for key, v in value.items():
            assert key in by_json, f"{path}.{key} is not a field of {cls.__name__}"
            attr = by_json[key]
            field_type = model.swagger_types[attr]
            conform(v, field_type, module, f"{path}.{key}")
            if field_type == "str" and v is not None:
                setattr(model, attr, v)
                assert getattr(model, attr) == v, f"{path}.{key}: {v!r} is not a value the SDK knows"
