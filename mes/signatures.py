"""Electronic signatures: the signer re-enters PIN or password, and the signature is bound to a content hash.

A session cookie or API token says who is at the keyboard; only the secret typed at the moment of
signing says the person means it. The signature stores the SHA-256 of the canonical content it signs,
so editing that content later, or copying the signature onto another record, no longer verifies.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mes import audit
from mes.auth import verify_secret
from mes.errors import Invalid, NotFound
from mes.models import Signature, User, utcnow

MEANINGS = ("performed", "inspected", "approved", "rejected", "mrb_disposition", "containment", "deallocation")


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the content in one canonical JSON form (sorted keys, no spaces, dates as ISO text)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sign(session: Session, user_id: int, secret: str | None, meaning: str, entity: str, entity_id: object,
         content: dict[str, Any], at: datetime | None = None) -> Signature:
    """Sign `content` as `meaning` after re-checking the signer's PIN or password; nothing is signed on a wrong one."""
    if meaning not in MEANINGS:
        raise ValueError(f"unknown signature meaning {meaning!r}")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such signer", "user")
    if not secret or not (verify_secret(user.pin_hash, secret) or verify_secret(user.password_hash, secret)):
        raise Invalid("PIN or password is wrong; nothing was signed", "pin")
    signature = Signature(user_id=user.id, printed_name=user.display_name, meaning=meaning, entity=entity,
                          entity_id=str(entity_id), content_hash=content_hash(content), at=at or utcnow())
    session.add(signature)
    session.flush()
    audit.record(session, user_id, f"sign.{meaning}", entity, entity_id, at=signature.at,
                 new={"signature": signature.id, "printed_name": signature.printed_name,
                      "content_hash": signature.content_hash})
    return signature


def verifies(signature: Signature, entity: str, entity_id: object, content: dict[str, Any]) -> bool:
    """True when `signature` was made on exactly this record with exactly this content."""
    return (signature.entity == entity and signature.entity_id == str(entity_id)
            and signature.content_hash == content_hash(content))
