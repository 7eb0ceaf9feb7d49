"""Independent view of a DynamoDB/S3-compatible server, through boto3 (not the provider's code).

Usage: aws_probe.py COMMAND ENDPOINT [ARGS...]; prints JSON. Keys come from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (default "test"/"test"), region from AWS_DEFAULT_REGION (us-east-1).
"""
import json
import os
import sys

import boto3
from botocore.config import Config


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def main(argv):
    command, endpoint, *args = argv
    if command == "tables":
        ddb = client("dynamodb", endpoint)
        out = {}
        for name in ddb.list_tables()["TableNames"]:
            t = ddb.describe_table(TableName=name)["Table"]
            out[name] = {
                "status": t["TableStatus"],
                "key": [[k["AttributeName"], k["KeyType"]] for k in t["KeySchema"]],
                "gsis": sorted(i["IndexName"] for i in t.get("GlobalSecondaryIndexes", [])),
                "billing": t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
                "stream": t.get("StreamSpecification", {}).get("StreamViewType"),
            }
        print(json.dumps(out))
    elif command == "create-table":
        (name,) = args
        client("dynamodb", endpoint).create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        print("{}")
    elif command == "delete-table":
        (name,) = args
        client("dynamodb", endpoint).delete_table(TableName=name)
        print("{}")
    elif command == "buckets":
        s3 = client("s3", endpoint)
        out = {}
        for b in s3.list_buckets().get("Buckets", []):
            try:
                rules = s3.get_bucket_lifecycle_configuration(Bucket=b["Name"])["Rules"]
            except Exception:  # no lifecycle configuration
                rules = []
            out[b["Name"]] = {"rules": [{"id": r.get("ID"), "days": r.get("Expiration", {}).get("Days")} for r in rules]}
        print(json.dumps(out))
    elif command == "create-bucket":
        (name,) = args
        client("s3", endpoint).create_bucket(Bucket=name)
        print("{}")
    elif command == "put-object":
        bucket, key = args
        client("s3", endpoint).put_object(Bucket=bucket, Key=key, Body=b"hello")
        print("{}")
    elif command == "delete-bucket":
        (name,) = args
        s3 = client("s3", endpoint)
        for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=o["Key"])
        s3.delete_bucket(Bucket=name)
        print("{}")
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
