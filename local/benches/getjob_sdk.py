"""The Python half of the engine benchmark (benches/engine.rs): GetJob called sequentially with
the official OCI SDK, as shipped (default retry and circuit-breaker strategies), signed with a
real API-key signer. Timed inside Python so interpreter start-up and imports do not count.

Usage: python getjob_sdk.py ENDPOINT TENANCY USER FINGERPRINT KEY_FILE JOB_ID CALLS WARMUP
Prints one JSON object: calls, total_s, median_ms, p99_ms, sign_median_ms (one RSA-2048
PKCS#1 v1.5 signature with the signer's key, as every request makes one), sdk_version.
"""

import json
import statistics
import sys
import time

import oci
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding


def main():
    endpoint, tenancy, user, fingerprint, key_file, job_id = sys.argv[1:7]
    calls, warmup = int(sys.argv[7]), int(sys.argv[8])
    config = {
        "tenancy": tenancy,
        "user": user,
        "fingerprint": fingerprint,
        "key_file": key_file,
        "region": "us-ashburn-1",
    }
    signer = oci.signer.Signer(tenancy, user, fingerprint, key_file)
    rm = oci.resource_manager.ResourceManagerClient(
        config, signer=signer, service_endpoint=endpoint
    )
    for _ in range(warmup):
        rm.get_job(job_id)
    times = []
    started = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        job = rm.get_job(job_id).data
        times.append(time.perf_counter() - t)
        if job.id != job_id:
            raise SystemExit(f"GetJob returned {job.id}, not {job_id}")
    total = time.perf_counter() - started
    times.sort()
    signs = []
    for _ in range(200):
        t = time.perf_counter()
        signer.private_key.sign(
            b"date: Thu, 05 Jan 2014 21:31:40 GMT", padding.PKCS1v15(), hashes.SHA256()
        )
        signs.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "calls": calls,
                "total_s": total,
                "median_ms": statistics.median(times) * 1000.0,
                "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000.0,
                "sign_median_ms": statistics.median(signs) * 1000.0,
                "sdk_version": oci.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
