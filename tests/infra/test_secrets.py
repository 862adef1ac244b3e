"""No credential in infra/ or the images: known key formats and `password: literal` assignments are searched for in
every infra file, Dockerfiles declare no secret ENV/ARG, and the build context cannot carry an env file."""

from __future__ import annotations

import re

import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import REPO

INFRA = REPO / "infra"
PLACEHOLDERS = {"change-me", "change-me-too"}  # .env.example's values, there to be replaced
IAM_ACTIONS = {"secretsmanager:GetSecretValue"}  # looks like `secret...: value`, is an action name
PATTERNS = {
    "AWS access key id": r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "OpenAI key": r"\bsk-[A-Za-z0-9_-]{20,}",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{30,}",
    "Prefect Cloud key": r"\bpnu_[A-Za-z0-9]{30,}",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36}",
    "assigned secret": r"(?i)(?<![a-z])(password|passwd|secret|token|api_key|access_key)[\w.-]*\s*(?::|=(?!=))\s*"
    r"['\"]?(?![$'\"{])([^\s'\"#]{6,})",
}


def findings(text: str) -> list[tuple[str, str]]:
    found = []
    for name, pattern in PATTERNS.items():
        for match in re.finditer(pattern, text):
            value = match.group(match.lastindex or 0)
            if value not in PLACEHOLDERS and match.group(0) not in IAM_ACTIONS:
                found.append((name, match.group(0)))
    return found


def test_the_scanner_finds_what_it_looks_for():
    planted = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\nkey: AKIAABCDEFGHIJKLMNOP\nPOSTGRES_PASSWORD: hunter2x\n"
    assert {name for name, _ in findings(planted)} == {"assigned secret", "AWS access key id"}
    assert findings("POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}\nPOSTGRES_PASSWORD=change-me\n") == []


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(REPO) for p in INFRA.rglob("*") if p.is_file() and p.name != ".env"), ids=str
)
def test_no_credential_in_infra_files(path):
    assert findings((REPO / path).read_text()) == []


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_images_declare_no_secret_and_cannot_copy_an_env_file(name):
    with open(INFRA / "docker" / name, "rb") as file:
        parser = DockerfileParser(fileobj=file, cache_content=True)
    declared = [*parser.envs, *(i["value"].split("=")[0] for i in parser.structure if i["instruction"] == "ARG")]
    assert not [v for v in declared if re.search(r"KEY|SECRET|PASSWORD|TOKEN", v, re.I)], declared
    ignore = (INFRA / "docker" / f"{name}.dockerignore").read_text().splitlines()
    allowed = [line[1:] for line in ignore if line.startswith("!")]
    assert "*" in ignore and not any(a.rstrip("/") in {"infra", ".env", "infra/.env"} for a in allowed), allowed
