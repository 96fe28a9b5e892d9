"""Reads a secret string from SSM Parameter Store or Secrets Manager (boto3)."""

from __future__ import annotations

from typing import Any

import boto3


def read_ssm_parameter(name: str, client: Any = None) -> str:
    """A (SecureString) parameter's value, decrypted: ssm:GetParameter on that parameter."""
    ssm = client or boto3.client("ssm")
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def read_secrets_manager(secret_id: str, client: Any = None) -> str:
    """A secret's current SecretString: secretsmanager:GetSecretValue on that secret."""
    secrets = client or boto3.client("secretsmanager")
    value = secrets.get_secret_value(SecretId=secret_id).get("SecretString")
    if not isinstance(value, str):
        raise ValueError(f"secret {secret_id} has no SecretString (binary secrets are not read)")
    return value
