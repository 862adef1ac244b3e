"""Credentials live in the environment (or a secret store), never in URIs, job definitions or logs.

URIs end up in MLflow tags, logs, staged params files and SageMaker job definitions, so a tracking or database URI
that carries a password is refused, naming the variable that should hold it. A credential still set to an example
value ("change-me", the compose defaults) is refused at start. A SageMaker job reads its tokens from AWS Secrets
Manager: the job definition names the secrets (`PARETOFLOW_SECRETS`), never their values.

`python -m paretoflow.credentials VAR...` runs the placeholder check on the named variables (the compose stack's
first service, so `docker compose up` stops before any server starts with an example password).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Where each kind of URI takes its credential from instead.
ENV_FOR_SCHEME = {
    "http": "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)",
    "https": "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)",
    "postgresql": "PGPASSWORD (or a ~/.pgpass file)",
    "postgres": "PGPASSWORD (or a ~/.pgpass file)",
    "mysql": "MYSQL_PWD (or an option file)",
}
QUERY_SECRETS = frozenset({"password", "sslpassword", "token", "api_key", "apikey", "secret", "access_token"})

# Variables paretoflow reads credentials from, itself or through MLflow, libpq, boto3, Prefect and the judges.
CREDENTIAL_ENV = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "PGPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "PREFECT_API_KEY",
    "PREFECT_SERVER_DATABASE_PASSWORD",
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "HF_TOKEN",
    "OPENAI_API_KEY",
)
# Example values (infra/.env.example's, the images' defaults, the usual suspects), compared without case or punctuation.
PLACEHOLDERS = frozenset(
    {
        "changeme",
        "changemetoo",
        "replaceme",
        "password",
        "passwd",
        "secret",
        "admin",
        "minioadmin",
        "postgres",
        "root",
        "example",
        "default",
        "yourpassword",
        "123456",
        "12345678",
        "qwerty",
    }
)

SECRETS_ENV = "PARETOFLOW_SECRETS"  # a job's {variable: secret id in AWS Secrets Manager}
_SECRET_WORDS = frozenset({"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "CREDENTIALS", "APIKEY"})


class CredentialError(ValueError):
    """A credential where it would leak (a URI, a job definition) or an example value; the message names the
    variable to use instead and never the secret."""


def check_uri(uri: str, where: str) -> None:
    """Refuse a URI that carries a password (or, for http(s), any user info) or a secret query parameter."""
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+", 1)[0].lower()
    web = scheme in ("http", "https")
    in_query = sorted({k for k, _ in parse_qsl(parts.query) if k.lower() in QUERY_SECRETS})
    if parts.password is None and not (web and parts.username is not None) and not in_query:
        return
    what = f"a secret query parameter ({', '.join(in_query)})" if in_query else "credentials (user:password@)"
    instead = ENV_FOR_SCHEME.get(scheme, "the environment variable its client reads")
    raise CredentialError(
        f"{where} carries {what}: {redact(uri)}. URIs end up in logs, MLflow tags and job definitions; remove the "
        f"credential from the URI and set {instead} in the environment instead."
    )


def redact(uri: str) -> str:
    """The URI with its password (http(s): its whole user info) and secret query values replaced by ***."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        web = parts.scheme.lower() in ("http", "https")
        netloc = f"***@{host}" if web or not user else f"{user}:***@{host}"
    query = urlencode([(k, "***" if k.lower() in QUERY_SECRETS else v) for k, v in parse_qsl(parts.query)])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def is_placeholder(value: str) -> bool:
    return re.sub(r"[^a-z0-9]", "", value.lower()) in PLACEHOLDERS


def refuse_placeholders(env: Mapping[str, str] = os.environ, names: Iterable[str] = CREDENTIAL_ENV) -> None:
    """Refuse to start while a credential variable holds an example value; the values are never shown."""
    found = [name for name in names if env.get(name) and is_placeholder(env[name])]
    if found:
        raise CredentialError(
            f"{', '.join(found)} still {'holds an example value' if len(found) == 1 else 'hold example values'} "
            "(as in infra/.env.example); set real secrets in the environment (or infra/.env for the compose stack) "
            "before starting."
        )


def check_tracking_credentials(uri: str) -> None:
    """What a run checks before it talks to MLflow: no credential in tracking.uri, no example password set."""
    check_uri(uri, "tracking.uri")
    refuse_placeholders()


def refuse_secret_values(environment: Mapping[str, str], where: str) -> None:
    """A job definition's environment is readable by whoever may describe the job: no credential goes there."""
    for name, value in environment.items():
        if names_a_secret(name):
            raise CredentialError(
                f"{where} would carry {name}: a job definition is readable by anyone who may describe the job. Store "
                f"it in AWS Secrets Manager and name it in grpo.compute.secrets ({name}: <secret id>)."
            )
        if "://" in str(value):
            check_uri(str(value), f"{name} in {where}")


def names_a_secret(name: str) -> bool:
    """HF_TOKEN, PGPASSWORD, AWS_SECRET_ACCESS_KEY, OPENAI_API_KEY...; not PARETOFLOW_SECRETS, which names secret ids,
    nor AWS_ENDPOINT_URL_SECRETS_MANAGER."""
    upper = name.upper()
    return bool(_SECRET_WORDS & set(upper.split("_"))) or any(k in upper for k in ("API_KEY", "ACCESS_KEY", "PASSWORD"))


def secret_references(secrets: Mapping[str, str]) -> dict[str, str]:
    """The job-definition entry naming a job's secrets (variable -> secret id), or nothing."""
    return {SECRETS_ENV: json.dumps(dict(secrets), sort_keys=True)} if secrets else {}


def load_secrets(env: MutableMapping[str, str] = os.environ, client=None) -> list[str]:
    """Inside a job: each secret named in PARETOFLOW_SECRETS into its variable; returns the variables set (the
    values are never printed)."""
    references = json.loads(env.get(SECRETS_ENV) or "{}")
    if not references:
        return []
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = client or boto3.client("secretsmanager")
    for name, secret_id in sorted(references.items()):
        try:
            env[name] = client.get_secret_value(SecretId=secret_id)["SecretString"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CredentialError(
                f"{name}: secret {secret_id} could not be read ({error.get('Code')}: {error.get('Message')}); the "
                "job role needs secretsmanager:GetSecretValue on it (infra/aws/paretoflow.yaml grants it on "
                "<ProjectName>/* secrets)"
            ) from None
        except BotoCoreError as exc:
            raise CredentialError(f"{name}: AWS Secrets Manager is unreachable from the job ({exc})") from None
    print(f"[credentials] from the secret store: {', '.join(sorted(references))}", flush=True)
    return sorted(references)


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    if not names:
        print("usage: python -m paretoflow.credentials VAR [VAR...]", file=sys.stderr)
        return 2
    missing = [name for name in names if not os.environ.get(name)]
    try:
        if missing:
            raise CredentialError(f"{', '.join(missing)} not set; set it in the environment (or infra/.env)")
        refuse_placeholders(os.environ, names)
    except CredentialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"credentials set, none an example value: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
