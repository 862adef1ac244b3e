"""infra/aws/paretoflow.yaml: cfn-lint clean, the bucket/ECR/IAM settings the issue asks for, a real create_stack
against moto's CloudFormation on loopback (both with and without the ECS GPU capacity), and the GPU job role's
policies, as CloudFormation resolved them, enforced by moto's IAM: it writes only under its own prefixes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.moto_s3 import s3_endpoint  # noqa: F401  (fixture)

TEMPLATE = REPO / "infra/aws/paretoflow.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


class _CfnLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt... as plain values; enough to inspect the template's structure."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, tag, node: (
        loader.construct_yaml_object
        if False
        else (
            loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
            if isinstance(node, yaml.MappingNode)
            else loader.construct_scalar(node)
        )
    ),
)


@pytest.fixture(scope="module")
def resources() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Resources"]


def test_cfn_lint_passes():
    out = subprocess.run([str(CFN_LINT), str(TEMPLATE)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_bucket_is_encrypted_private_versioned_and_tls_only(resources):
    bucket = resources["ArtifactBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    (statement,) = resources["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*" and statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(statement["Resource"]) == 2  # the bucket and every object in it


def test_roles_are_scoped_to_the_project_resources(resources):
    """No Allow on `*` except the actions AWS gives no resource scope (ECR login, PutMetricData by namespace, listing
    training jobs)."""
    unscoped_ok = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "sagemaker:ListTrainingJobs"}
    documents = [resources["ProjectAccessPolicy"]["Properties"]["PolicyDocument"]]
    for role in ("WorkerRole", "GpuJobRole"):
        documents += [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
    statements = [s for d in documents for s in d["Statement"] if isinstance(s, dict) and "Effect" in s]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in actions), statement
        if statement["Resource"] == "*":
            assert set(actions) <= unscoped_ok, statement
    passes = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passes and all("iam:PassedToService" in s["Condition"]["StringEquals"] for s in passes)
    sagemaker = resources["GpuJobRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert "sagemaker.amazonaws.com" in sagemaker["Service"]


def test_ecr_scans_on_push_and_keeps_tags_immutable(resources):
    repository = resources["Repository"]["Properties"]
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])


@pytest.mark.parametrize("ecs_gpu", ["false", "true"])
def test_stack_creates_in_moto_cloudformation(s3_endpoint, ecs_gpu):  # noqa: F811
    """moto creates every resource type here except AWS::S3::BucketPolicy (skipped with a warning), and of a bucket's
    properties applies only encryption; the policy, versioning and public-access block are checked in the template
    above. What moto does create is read back through the service APIs."""
    import boto3

    project = f"pf-moto-{ecs_gpu}"
    parameters = {"ProjectName": project, "EnableEcsGpu": ecs_gpu}
    if ecs_gpu == "true":
        parameters["GpuSubnets"] = boto3.client("ec2", endpoint_url=s3_endpoint).describe_subnets()["Subnets"][0][
            "SubnetId"
        ]
    cfn = boto3.client("cloudformation", endpoint_url=s3_endpoint)
    with pytest.warns(UserWarning, match="AWS::S3::BucketPolicy"):
        cfn.create_stack(
            StackName=project,
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cfn.describe_stacks(StackName=project)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert ("GpuClusterName" in outputs) == (ecs_gpu == "true")

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = outputs["BucketName"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (repository,) = boto3.client("ecr", endpoint_url=s3_endpoint).describe_repositories(repositoryNames=[project])[
        "repositories"
    ]
    assert repository["imageTagMutability"] == "IMMUTABLE"  # scan-on-push: moto keeps CFN casing, boto3 drops it
    iam = boto3.client("iam", endpoint_url=s3_endpoint)
    for arn in (outputs["WorkerRoleArn"], outputs["GpuJobRoleArn"]):
        assert iam.get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]["Arn"] == arn
    if ecs_gpu == "true":
        ecs = boto3.client("ecs", endpoint_url=s3_endpoint)
        (definition,) = ecs.list_task_definitions(familyPrefix=f"{project}-gpu-job")["taskDefinitionArns"]
        container = ecs.describe_task_definition(taskDefinition=definition)["taskDefinition"]["containerDefinitions"][0]
        assert container["command"] == ["python", "-m", "components.grpo.job"]
        assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]


def test_gpu_job_role_may_write_only_its_own_prefixes_of_the_bucket(resources):
    """Not the project-wide bucket policy: reads of its staged inputs and checkpoints, writes of its outputs and
    checkpoints, a listing narrowed to its prefix, the project's secrets; all under JobPrefix."""
    role = resources["GpuJobRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    own = "${ArtifactBucket.Arn}/${JobPrefix}/"
    for statement in s3:
        resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if _actions(statement) == ["s3:ListBucket"]:
            assert statement["Condition"] == {"StringLike": {"s3:prefix": ["${JobPrefix}/*"]}}
            continue
        assert all(r.startswith(own) for r in resources_), statement
    writes = {r for s in s3 if set(_actions(s)) & {"s3:PutObject", "s3:DeleteObject"} for r in _resources(s)}
    assert writes == {own + "jobs/*", own + "checkpoints/*"}
    (secrets,) = [s for s in statements if _actions(s) == ["secretsmanager:GetSecretValue"]]
    assert secrets["Resource"].endswith(":secret:${ProjectName}/*")


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def _resources(statement: dict) -> list[str]:
    return statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]


@pytest.fixture
def moto_with_iam(tmp_path):
    """A moto server of its own (IAM enforcement is server-wide), started without it for the setup; yields its URL
    and a function that turns enforcement on."""
    import urllib.request

    from components.judges.local_server import free_port
    from tests.servers import wait_http

    port = free_port()
    log = tmp_path / "moto.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def enforce() -> None:
        request = urllib.request.Request(
            f"{url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 (loopback)

    try:
        wait_http(f"{url}/moto-api/", 60, server, log)
        yield url, enforce
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gpu_job_role_is_held_to_its_prefixes_by_iam(moto_with_iam, monkeypatch):
    """The GPU job role's inline policies as moto's CloudFormation resolved them, attached to a probe user (moto cannot
    authorize a CloudFormation-made role itself: it keeps its policies as Python reprs), then every S3 call checked."""
    import ast

    import boto3
    from botocore.exceptions import ClientError

    url, enforce = moto_with_iam
    for key, value in {
        "AWS_ACCESS_KEY_ID": "setup",
        "AWS_SECRET_ACCESS_KEY": "setup",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    cfn = boto3.client("cloudformation", endpoint_url=url)
    cfn.create_stack(
        StackName="pf-iam",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "ProjectName", "ParameterValue": "pf-iam"}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="pf-iam")["Stacks"][0]["Outputs"]
    }
    bucket = outputs["BucketName"]
    assert outputs["JobS3Prefix"] == f"s3://{bucket}/sagemaker"
    iam = boto3.client("iam", endpoint_url=url)
    role = outputs["GpuJobRoleArn"].rsplit("/", 1)[1]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    iam.create_user(UserName="gpu-job-probe")
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = ast.literal_eval(document) if isinstance(document, str) else document
        iam.put_user_policy(UserName="gpu-job-probe", PolicyName=name, PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName="gpu-job-probe")["AccessKey"]
    enforce()
    s3 = boto3.client(
        "s3", endpoint_url=url, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )

    def allowed(call, key: str) -> bool:
        try:
            call(Bucket=bucket, Key=key, **({"Body": b"x"} if call == s3.put_object else {}))
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDenied"
            return False
        return True

    assert allowed(s3.put_object, "sagemaker/checkpoints/k/policies/p/finished.json")
    assert allowed(s3.put_object, "sagemaker/jobs/job-1/output/model.tar.gz")
    assert allowed(s3.get_object, "sagemaker/checkpoints/k/policies/p/finished.json")
    assert not allowed(s3.put_object, "sagemaker/inputs/job-1/data/prompts.parquet")  # staged by the worker only
    for elsewhere in ("mlflow/artifacts/1/model.bin", "dvc/files/md5/ab/cdef", "data/prompts.jsonl"):
        assert not allowed(s3.put_object, elsewhere)
    assert not allowed(s3.get_object, "mlflow/artifacts/1/model.bin")
    assert not allowed(s3.delete_object, "sagemaker/jobs/job-1/output/model.tar.gz")
