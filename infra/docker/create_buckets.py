"""One-shot service of infra/docker-compose.yml: create the named buckets on the S3 endpoint (idempotent)."""

import os
import sys

import boto3

client = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
for bucket in sys.argv[1:]:
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
    print(f"bucket {bucket}: ready")
